import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './options';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

/** Top functions by self time of a V8 .cpuprofile (node --cpu-prof), idle and GC shown as such. */
export function topSelfTime(file: string, limit = 25): { totalMs: number; idlePct: number; top: HotFunction[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totals = new Map<string, HotFunction>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === '(idle)') idle += us;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = totals.get(key) ?? { name: functionName || '(anonymous)', where, selfMs: 0, selfPct: 0 };
    entry.selfMs += us / 1000;
    totals.set(key, entry);
  }
  const top = [...totals.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, limit);
  for (const entry of top) entry.selfPct = (entry.selfMs * 1000 * 100) / total;
  return { totalMs: total / 1000, idlePct: (idle * 100) / total, top };
}

function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith('/') ? relative(ROOT, path) : path;
}

export function printTop(file: string, limit = 25): void {
  const { totalMs, idlePct, top } = topSelfTime(file, limit);
  console.log(`${relative(ROOT, file)}: ${Math.round(totalMs)} ms sampled, ${idlePct.toFixed(1)}% idle`);
  for (const f of top) console.log(`${f.selfPct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`);
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) printTop(file, Number(process.env.TOP ?? 25));
}
