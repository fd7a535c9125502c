/**
 * Memory benchmark (issue 7, item 3): RSS per idle session with an open
 * socket at 10,000 sessions, against raw `ws` holding as many sockets.
 *
 * RSS is read from /proc after a full GC (through the inspector), at 10% of
 * the sessions and at all of them; the figure is the growth between the two
 * divided by the sessions added, so that start-up, JIT code and heap sizing
 * (the same whatever the count) do not count as per-session memory. The
 * growth from start-up divided by all sessions is shown too.
 *
 *   npx ts-node --transpile-only bench/memory.ts       (BENCH_MEMORY_SESSIONS=..., BENCH_QUICK=1)
 */
import { loadavg } from 'node:os';
import { ClientFleet } from './support/client-fleet';
import { options } from './support/options';
import { INSPECT_ARGS, ServerProcess } from './support/processes';
import { BenchReport, ratioTarget, Row, runAsScript } from './support/report';
import { round, sleep } from './support/stats';
import type { SocketTarget } from './support/ws-clients';
import { baselineTargets, GatewayWorld } from './support/world';

interface MemoryRun {
  startKiB: number;
  warmKiB: number;
  fullKiB: number;
  /** RSS at full count before the forced GC: what `ps` would show. */
  fullNoGcKiB: number;
  /** (full - warm) / sessions added */
  perSessionKiB: number;
  /** (full - start) / sessions */
  perSessionFromStartKiB: number;
}

const SETTLE_MS = 2_000;

async function settledRss(server: ServerProcess): Promise<{ gc: number; noGc: number }> {
  await sleep(SETTLE_MS);
  const noGc = server.rssKiB();
  await server.collectGarbage();
  await sleep(500);
  return { gc: server.rssKiB(), noGc };
}

async function measure(server: ServerProcess, sessions: number, targetsFor: (count: number, from: number) => Promise<SocketTarget[]>): Promise<MemoryRun> {
  const warm = Math.max(1, Math.round(sessions / 10));
  const fleet = await ClientFleet.start(options.delivery.clientProcesses);
  try {
    const start = await settledRss(server);
    const open = async (count: number, from: number) => {
      const opened = await fleet.open(await targetsFor(count, from));
      if (opened.failed) throw new Error(`${opened.failed} sockets failed to open: ${opened.errors.join('; ')}`);
    };
    await open(warm, 0);
    const warmRss = await settledRss(server);
    await open(sessions - warm, warm);
    const full = await settledRss(server);
    return {
      startKiB: start.gc,
      warmKiB: warmRss.gc,
      fullKiB: full.gc,
      fullNoGcKiB: full.noGc,
      perSessionKiB: (full.gc - warmRss.gc) / (sessions - warm),
      perSessionFromStartKiB: (full.gc - start.gc) / sessions,
    };
  } finally {
    await fleet.close();
  }
}

export async function runMemory(): Promise<BenchReport> {
  const sessions = options.memory.sessions;
  const world = await GatewayWorld.create();
  let baseline: MemoryRun;
  let gateway: MemoryRun;
  try {
    const raw = await ServerProcess.baseline('memory-raw-ws', 'raw-ws-server.ts', {}, INSPECT_ARGS);
    try {
      baseline = await measure(raw, sessions, async (count, from) => baselineTargets(raw, world.identities.slice(from, from + count)));
    } finally {
      await raw.stop();
    }
    const [server] = await world.startGateways('memory-gateway', 1, {}, INSPECT_ARGS);
    gateway = await measure(server, sessions, (count, from) => world.setupSessions(count, from));
  } finally {
    await world.close();
  }
  console.log(`memory: gateway ${JSON.stringify(gateway)}\nmemory: raw ws ${JSON.stringify(baseline)}`);
  const target = ratioTarget('memory.idle-session', 'KiB RSS/session', gateway.perSessionKiB, baseline.perSessionKiB, 1.5, true);
  const rows: Row[] = [
    { label: `RSS per idle session (${sessions})`, unit: 'KiB', gateway: target.gateway, baseline: target.baseline, lowerIsBetter: true, target: '≤ 1.5×', met: target.met },
    { label: 'RSS per session, from start-up', unit: 'KiB', gateway: round(gateway.perSessionFromStartKiB), baseline: round(baseline.perSessionFromStartKiB), lowerIsBetter: true },
    { label: `RSS with ${sessions} sockets`, unit: 'MiB', gateway: round(gateway.fullKiB / 1024), baseline: round(baseline.fullKiB / 1024), lowerIsBetter: true },
    { label: `RSS with ${sessions} sockets, before GC`, unit: 'MiB', gateway: round(gateway.fullNoGcKiB / 1024), baseline: round(baseline.fullNoGcKiB / 1024), lowerIsBetter: true },
    { label: 'RSS at start-up', unit: 'MiB', gateway: round(gateway.startKiB / 1024), baseline: round(baseline.startKiB / 1024), lowerIsBetter: true },
  ];
  return {
    bench: 'memory',
    title: `Memory: RSS per idle session with an open socket, ${sessions} sessions`,
    baselineName: 'raw ws, same socket count',
    rows,
    targets: [target],
    faults: { gateway: 0, baseline: 0 },
    notes: [`per-session figure: RSS growth from ${Math.round(sessions / 10)} to ${sessions} sessions after a forced full GC, divided by the sessions added`],
    date: new Date().toISOString(),
    load: loadavg(),
  };
}

if (require.main === module) runAsScript(runMemory);
