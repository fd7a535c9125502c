import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './options';
import { round } from './stats';

/** One entry of summary.json: a target of issue 7 and whether this run met it. */
export interface TargetResult {
  name: string;
  unit: string;
  gateway: number;
  baseline: number;
  /** gateway / baseline; null when the baseline is 0. */
  ratio: number | null;
  /** The bound on `ratio`, or on `gateway` itself for latencies and counts (see docs/benchmarks.md). */
  target: number;
  met: boolean;
  lowerIsBetter?: true;
}

/** A measured figure for the tables and charts (targets and context alike). */
export interface Row {
  label: string;
  unit: string;
  gateway: number;
  baseline: number;
  lowerIsBetter?: boolean;
  /** How the row is judged, e.g. "≥ 0.80" or "≤ 5 ms"; absent for context rows. */
  target?: string;
  met?: boolean;
}

export interface BenchReport {
  bench: string;
  title: string;
  /** What the baseline column is. */
  baselineName: string;
  rows: Row[];
  targets: TargetResult[];
  /** Events lost or duplicated, summed over every run of the benchmark. */
  faults: { gateway: number; baseline: number };
  notes: string[];
  date: string;
  load: number[];
}

export const ratioOf = (gateway: number, baseline: number): number | null => (baseline === 0 ? null : round(gateway / baseline));

/** A target on the ratio to the baseline: at least `target` (throughput) or at most (lowerIsBetter). */
export function ratioTarget(name: string, unit: string, gateway: number, baseline: number, target: number, lowerIsBetter = false): TargetResult {
  const ratio = ratioOf(gateway, baseline);
  const met = ratio !== null && (lowerIsBetter ? gateway <= target * baseline : gateway >= target * baseline);
  return { name, unit, gateway: round(gateway), baseline: round(baseline), ratio, target, met, ...(lowerIsBetter ? { lowerIsBetter: true as const } : {}) };
}

/** A target on the gateway's own figure (a latency or a count): at most `limit`. */
export function limitTarget(name: string, unit: string, gateway: number, baseline: number, limit: number): TargetResult {
  return { name, unit, gateway: round(gateway), baseline: round(baseline), ratio: ratioOf(gateway, baseline), target: round(limit), met: gateway <= limit, lowerIsBetter: true };
}

export function printReport(report: BenchReport): void {
  console.log(`\n${report.title}  (baseline: ${report.baselineName}; load ${report.load.map((l) => l.toFixed(2)).join(' ')})`);
  const header = ['figure', 'unit', 'gateway', 'baseline', 'ratio', 'target', 'met'];
  const lines = report.rows.map((row) => [
    row.label,
    row.unit,
    fmt(row.gateway),
    fmt(row.baseline),
    row.baseline ? (row.gateway / row.baseline).toFixed(2) : '-',
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(line(l));
  console.log(`lost or duplicated events: gateway ${report.faults.gateway}, baseline ${report.faults.baseline}`);
  for (const note of report.notes) console.log(`note: ${note}`);
}

/** Writes <bench>.json and <bench>.svg under the results directory. */
export function saveReport(report: BenchReport): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${report.bench}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${report.bench}.svg`), chart(report));
}

/** Runs one bench as a script: prints and saves its report, exits non-zero on failure and without waiting on stray handles. */
export function runAsScript(run: () => Promise<BenchReport>): void {
  run()
    .then((report) => {
      printReport(report);
      saveReport(report);
    })
    .catch((error) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 100).unref());
}

export function loadReport(bench: string): BenchReport | undefined {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${bench}.json`), 'utf8')) as BenchReport;
  } catch {
    return undefined;
  }
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(round(value));
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A hand-written SVG: one panel per row, the gateway's bar over the
 * baseline's, both on the panel's own scale (rows have different units).
 */
export function chart(report: BenchReport): string {
  const width = 900;
  const labelWidth = 250;
  const barMax = width - labelWidth - 150;
  const panel = 46;
  const top = 44;
  const height = top + report.rows.length * panel + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(report.title)}</text>`,
    `<text x="10" y="36" fill="#555">gateway (blue) vs ${escape(report.baselineName)} (grey); ${escape(report.date.slice(0, 16).replace('T', ' '))} UTC, load ${report.load.map((l) => l.toFixed(2)).join(' ')}</text>`,
  ];
  report.rows.forEach((row, i) => {
    const y = top + i * panel;
    const max = Math.max(row.gateway, row.baseline) || 1;
    const bar = (value: number) => Math.max(1, (value / max) * barMax);
    const verdict = row.met === undefined ? '' : row.met ? ' ✓' : ' ✗';
    parts.push(`<text x="10" y="${y + 16}">${escape(row.label)}</text>`);
    parts.push(`<text x="10" y="${y + 31}" fill="#555">${escape(`${row.unit}${row.lowerIsBetter ? ', lower is better' : ''}${row.target ? `; target ${row.target}` : ''}${verdict}`)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 5}" width="${bar(row.gateway).toFixed(1)}" height="15" fill="${row.met === false ? '#d9534f' : '#337ab7'}"/>`);
    parts.push(`<text x="${(labelWidth + bar(row.gateway) + 5).toFixed(1)}" y="${y + 17}">${escape(fmt(row.gateway))}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 22}" width="${bar(row.baseline).toFixed(1)}" height="15" fill="#999"/>`);
    parts.push(`<text x="${(labelWidth + bar(row.baseline) + 5).toFixed(1)}" y="${y + 34}">${escape(fmt(row.baseline))}</text>`);
  });
  parts.push(`<text x="10" y="${height - 10}" fill="#555">ratio = gateway / baseline; red bar: target missed</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
