/**
 * Reconnect storm (issue 7, item 4): 10,000 sockets dropped at once (no close
 * handshake, as a network cut would) and reconnected with lastEventId; the
 * time until every socket is back, welcomed, and has received the event
 * published for it while it was away. Against raw `ws` sockets reconnecting
 * (welcome only: the raw server keeps nothing to resume).
 *
 *   npx ts-node --transpile-only bench/reconnect.ts    (BENCH_RECONNECT_SESSIONS=..., BENCH_QUICK=1)
 */
import { loadavg } from 'node:os';
import { ClientFleet } from './support/client-fleet';
import { options } from './support/options';
import { ServerProcess } from './support/processes';
import { Publisher } from './support/publisher';
import { BenchReport, ratioTarget, Row, runAsScript } from './support/report';
import { median, nowMs, round, sleep } from './support/stats';
import type { SocketTarget } from './support/ws-clients';
import { baselineTargets, GatewayWorld } from './support/world';

interface StormRun {
  /** Milliseconds from the reconnect to the last socket resumed, per round. */
  roundsMs: number[];
  ms: number;
  faults: number;
}

/** While the sockets are down the server must notice the cut before the storm begins. */
const NOTICE_MS = 2_000;

async function storm(server: ServerProcess, targets: SocketTarget[], publisher: Publisher, resume: boolean, label: string): Promise<StormRun> {
  const { concurrency, rounds } = options.reconnect;
  const identities = targets.map((t) => t.identity);
  const fleet = await ClientFleet.start(options.delivery.clientProcesses);
  const roundsMs: number[] = [];
  let faults = 0;
  try {
    const opened = await fleet.open(targets);
    if (opened.failed) throw new Error(`${label}: ${opened.failed} sockets failed to open: ${opened.errors.join('; ')}`);
    // One event each before the drop, so that every client has a lastEventId to resume from.
    await publisher.publishToEach(identities, 500);
    await sleep(500);
    for (let round = 0; round < rounds; round++) {
      await fleet.reset();
      await fleet.drop();
      await sleep(NOTICE_MS);
      // The gateway buffers an event for each session while its socket is away; the reconnect must replay it.
      const published = resume ? await publisher.publishToEach(identities, 500) : 0;
      const started = nowMs();
      const back = await fleet.reconnect(concurrency, resume ? 1 : 0);
      const ms = nowMs() - started;
      if (back.failed) throw new Error(`${label}: ${back.failed} sockets did not come back: ${back.errors.join('; ')}`);
      const stats = await fleet.stats();
      faults += published - stats.unique + stats.duplicates + stats.holes;
      roundsMs.push(ms);
      console.log(`${label} round ${round + 1}: ${targets.length} sockets back${resume ? ' and resumed' : ''} in ${Math.round(ms)} ms`);
      await sleep(500);
    }
  } finally {
    await fleet.close();
  }
  return { roundsMs, ms: median(roundsMs), faults };
}

export async function runReconnect(): Promise<BenchReport> {
  const sessions = options.reconnect.sessions;
  const world = await GatewayWorld.create();
  let baseline: StormRun;
  let gateway: StormRun;
  try {
    const raw = await ServerProcess.baseline('reconnect-raw-ws', 'raw-ws-server.ts');
    try {
      const identities = world.identities.slice(0, sessions);
      baseline = await storm(raw, baselineTargets(raw, identities), new Publisher([raw.url], identities), false, 'raw ws');
    } finally {
      await raw.stop();
    }
    const [server] = await world.startGateways('reconnect-gateway', 1);
    const targets = await world.setupSessions(sessions);
    gateway = await storm(server, targets, new Publisher([server.url], [], world.platformToken), true, 'gateway');
  } finally {
    await world.close();
  }
  const target = ratioTarget('reconnect.storm', 'ms', gateway.ms, baseline.ms, 1.5, true);
  const rows: Row[] = [
    { label: `${sessions} sockets back and resumed`, unit: 'ms', gateway: target.gateway, baseline: target.baseline, lowerIsBetter: true, target: '≤ 1.5×', met: target.met },
    { label: 'reconnects per second', unit: '/s', gateway: round(sessions / (gateway.ms / 1000)), baseline: round(sessions / (baseline.ms / 1000)) },
  ];
  return {
    bench: 'reconnect',
    title: `Reconnect storm: ${sessions} sockets dropped and reconnected with lastEventId`,
    baselineName: 'raw ws reconnecting',
    rows,
    targets: [target],
    faults: { gateway: gateway.faults, baseline: 0 },
    notes: [
      `median of ${options.reconnect.rounds} rounds (gateway ${gateway.roundsMs.map(Math.round).join(', ')} ms; raw ${baseline.roundsMs.map(Math.round).join(', ')} ms)`,
      `clients in ${options.delivery.clientProcesses} processes, ${options.reconnect.concurrency} handshakes in flight each`,
      'the gateway replays one event per session buffered while the socket was away; the raw server only sends a welcome',
    ],
    date: new Date().toISOString(),
    load: loadavg(),
  };
}

if (require.main === module) runAsScript(runReconnect);
