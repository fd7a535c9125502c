/**
 * `npm run bench`: every benchmark in one run, a table per
 * benchmark, an SVG chart per benchmark under bench/results/, and
 * bench/results/summary.json with one entry per target.
 *
 *   npm run bench                          full run (about 25 minutes on 2 cores)
 *   BENCH_QUICK=1 npm run bench            smoke run, results under .data/bench-quick
 *   BENCH_ONLY=rest,memory npm run bench   a subset; the summary keeps the other benchmarks' last results
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runDelivery } from './delivery';
import { runMemory } from './memory';
import { runReconnect } from './reconnect';
import { runRedisCluster } from './redis-cluster';
import { runRedisDelivery } from './redis-delivery';
import { runRest } from './rest';
import { runScaleOut } from './scale-out';
import { DeliveryRun } from './support/delivery-run';
import { RESULTS_DIR } from './support/options';
import { BenchReport, limitTarget, loadReport, printReport, saveReport, TargetResult } from './support/report';

const BENCHES = ['rest', 'delivery', 'memory', 'reconnect', 'redis-delivery', 'scale-out', 'redis-cluster'] as const;
type Bench = (typeof BENCHES)[number];

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`;
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY ? (process.env.BENCH_ONLY.split(',').map((s) => s.trim()) as Bench[]) : [...BENCHES];
  const unknown = only.filter((b) => !BENCHES.includes(b));
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown benchmarks ${unknown.join(', ')}; pick from ${BENCHES.join(', ')}`);
  const loadAtStart = loadavg();
  console.log(`machine: ${machine()}; node ${process.version}; load ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);

  const reports = new Map<Bench, BenchReport>();
  const done = (report: BenchReport) => {
    printReport(report);
    saveReport(report);
    reports.set(report.bench as Bench, report);
  };
  let memoryRuns = new Map<number, DeliveryRun>();
  for (const bench of BENCHES) {
    if (!only.includes(bench)) continue;
    const started = Date.now();
    console.log(`\n=== ${bench} ===`);
    if (bench === 'rest') done(await runRest());
    if (bench === 'delivery') {
      const { report, pairs } = await runDelivery();
      memoryRuns = new Map(pairs.map((p) => [p.sessions, p.gateway]));
      done(report);
    }
    if (bench === 'memory') done(await runMemory());
    if (bench === 'reconnect') done(await runReconnect());
    if (bench === 'redis-delivery') done(await runRedisDelivery(memoryRuns));
    if (bench === 'scale-out') done(await runScaleOut());
    if (bench === 'redis-cluster') done(await runRedisCluster());
    console.log(`(${bench}: ${Math.round((Date.now() - started) / 1000)} s)`);
  }

  // Benchmarks not run this time keep their last results (each report carries its own date).
  for (const bench of BENCHES) if (!reports.has(bench)) {
    const last = loadReport(bench);
    if (last) reports.set(bench, last);
  }
  const all = [...reports.values()];
  const results: TargetResult[] = all.flatMap((r) => r.targets);
  results.push(
    limitTarget(
      'events.lost-or-duplicated',
      'events',
      all.reduce((n, r) => n + r.faults.gateway, 0),
      all.reduce((n, r) => n + r.faults.baseline, 0),
      0,
    ),
  );
  const summary = { machine: machine(), node: process.version, date: new Date().toISOString(), results };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);

  console.log(`\nsummary (${join(RESULTS_DIR, 'summary.json')}):`);
  for (const r of results) {
    const ratio = r.ratio === null ? '-' : r.ratio.toFixed(2);
    console.log(`  ${r.met ? 'met   ' : 'MISSED'}  ${r.name.padEnd(30)} gateway ${String(r.gateway).padStart(9)} ${r.unit.padEnd(16)} baseline ${String(r.baseline).padStart(9)}  ratio ${ratio.padStart(6)}  target ${r.target}`);
  }
  console.log(`load at start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 100).unref());
