import { ClientFleet, FleetStats } from './client-fleet';
import { options } from './options';
import { cpuSeconds, ServerProcess } from './processes';
import { Publisher, PublishResult } from './publisher';
import { counted, RedisCounters, redisCounters } from './redis-stats';
import { nowMs, sleep } from './stats';
import { LATE_MS, type SocketTarget } from './ws-clients';

export interface PhaseResult {
  published: number;
  delivered: number;
  /** Delivered events per second, from the first send to the last receipt. */
  rate: number;
  p50: number;
  p99: number;
  max: number;
  lost: number;
  duplicated: number;
  /** Sockets the server closed during the phase (e.g. 4008 too slow), by code. */
  closed: Record<string, number>;
  /** Server CPU time per delivered event, in µs (all server processes). */
  cpuUsPerEvent: number;
  /**
   * The same for everything else on the machine's cores: the client processes,
   * this process (the publisher) and the run's redis-server when it has one.
   * With the servers' figure it tells where a saturated machine's CPU went.
   */
  otherCpuUsPerEvent: { clients: number; publisher: number; redis?: number };
  /** With Redis: what Redis did during the phase (every instance's commands, heartbeats included). */
  redis?: RedisCounters;
  /** Paced runs: slots the publisher could not keep. */
  late: number;
  /**
   * Where the events later than LATE_MS were sent: how many 100 ms windows of
   * the phase held any, and the worst windows as [seconds into the phase,
   * events, longest ms]. A few windows with many events point at stalls; many
   * windows with a few each, at sustained queueing.
   */
  lateWindows: { windows: number; of: number; worst: Array<[atS: number, events: number, maxMs: number]> };
}

export interface DeliveryRun {
  sessions: number;
  openMs: number;
  full: PhaseResult;
  paced: PhaseResult;
}

/** Waits until every published event arrived, or until no progress for `idleMs`. */
export async function drain(fleet: ClientFleet, published: number, idleMs = 10_000): Promise<FleetStats> {
  let stats = await fleet.stats();
  let last = stats.received;
  let lastProgress = nowMs();
  while (stats.unique < published && nowMs() - lastProgress < idleMs) {
    await sleep(100);
    stats = await fleet.stats();
    if (stats.received !== last) {
      last = stats.received;
      lastProgress = nowMs();
    }
  }
  return stats;
}

/** CPU seconds so far, by what spends them. */
interface CpuReading {
  servers: number;
  clients: number;
  publisher: number;
  redis?: number;
}

function phaseResult(publish: PublishResult, stats: FleetStats, cpu: CpuReading): PhaseResult {
  if (publish.errors.length) throw new Error(`the publisher failed: ${publish.errors.slice(0, 3).join('; ')}`);
  const seconds = (stats.lastAt - publish.startedAt) / 1000;
  const perEvent = (cpuSeconds: number) => (stats.unique ? (cpuSeconds / stats.unique) * 1e6 : 0);
  return {
    published: publish.published,
    delivered: stats.unique,
    rate: seconds > 0 ? stats.unique / seconds : 0,
    p50: stats.latency.percentile(50),
    p99: stats.latency.percentile(99),
    max: stats.latency.max,
    lost: publish.published - stats.unique + stats.misrouted,
    duplicated: stats.duplicates,
    closed: stats.closedByServer,
    cpuUsPerEvent: perEvent(cpu.servers),
    otherCpuUsPerEvent: {
      clients: perEvent(cpu.clients),
      publisher: perEvent(cpu.publisher),
      ...(cpu.redis === undefined ? {} : { redis: perEvent(cpu.redis) }),
    },
    late: publish.late,
    lateWindows: lateWindows(stats, publish),
  };
}

function lateWindows(stats: FleetStats, publish: PublishResult): PhaseResult['lateWindows'] {
  const first = Math.floor(publish.startedAt / 100);
  const worst = [...stats.late]
    .sort(([, a], [, b]) => b[0] - a[0])
    .slice(0, 5)
    .map(([window, [events, maxMs]]): [number, number, number] => [(window - first) / 10, events, Math.round(maxMs)]);
  return { windows: stats.late.size, of: Math.ceil((publish.endedAt - publish.startedAt) / 100), worst };
}

/** What `after` spent since `before`. */
function spent(after: CpuReading, before: CpuReading): CpuReading {
  return {
    servers: after.servers - before.servers,
    clients: after.clients - before.clients,
    publisher: after.publisher - before.publisher,
    redis: after.redis === undefined || before.redis === undefined ? undefined : after.redis - before.redis,
  };
}

/**
 * One delivery measurement against already running servers: open a socket
 * per target (client processes), warm up, then a full-speed phase and a
 * paced phase, each drained completely and checked for losses and duplicates.
 * `redis`: the run's redis-server (or the nodes of its Redis Cluster), whose
 * CPU and commands, summed over the nodes, are then reported too.
 */
/** One redis-server, or every node of a Redis Cluster. */
export type RedisUnderTest =
  | { readonly pid?: number; readonly url: string }
  | { readonly nodes: ReadonlyArray<{ readonly pid?: number; readonly url: string }> };

const sumCounters = (all: RedisCounters[]): RedisCounters => ({
  commands: all.reduce((n, c) => n + c.commands, 0),
  outputBytes: all.reduce((n, c) => n + c.outputBytes, 0),
});

export async function deliveryRun(
  servers: ServerProcess[],
  targets: SocketTarget[],
  token: string | undefined,
  label: string,
  redis?: RedisUnderTest,
): Promise<DeliveryRun> {
  const nodes = redis === undefined ? [] : 'nodes' in redis ? redis.nodes : [redis];
  const redisNow = async () => (nodes.length ? sumCounters(await Promise.all(nodes.map((node) => redisCounters(node.url)))) : undefined);
  const { durationS, pacedRate, batchSize, pacedBatchSize, inFlight, clientProcesses } = options.delivery;
  const fleet = await ClientFleet.start(clientProcesses);
  try {
    const opened = await fleet.open(targets);
    if (opened.failed) throw new Error(`${label}: ${opened.failed} of ${targets.length} sockets failed to open: ${opened.errors.join('; ')}`);
    const publisher = new Publisher(
      servers.map((s) => s.url),
      targets.map((t) => t.identity),
      token,
    );
    const cpu = (): CpuReading => ({
      servers: servers.reduce((sum, s) => sum + cpuSeconds(s.pid), 0),
      clients: fleet.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      publisher: cpuSeconds(process.pid),
      redis: nodes.length && nodes.every((node) => node.pid !== undefined) ? nodes.reduce((sum, node) => sum + cpuSeconds(node.pid!), 0) : undefined,
    });

    // Warm-up: JIT, buffers, connection pools; its events are checked like the others.
    const warm = await publisher.fullSpeed(Math.min(2000, durationS * 500), batchSize, inFlight);
    const warmStats = await drain(fleet, warm.published);
    const warmPhase = phaseResult(warm, warmStats, { servers: 0, clients: 0, publisher: 0 });

    await fleet.reset();
    let cpuBefore = cpu();
    let redisBefore = await redisNow();
    const full = await publisher.fullSpeed(durationS * 1000, batchSize, inFlight);
    const fullPhase = phaseResult(full, await drain(fleet, full.published), spent(cpu(), cpuBefore));
    const redisAfterFull = await redisNow();
    if (redisBefore && redisAfterFull) fullPhase.redis = counted(redisAfterFull, redisBefore);
    fullPhase.lost += warmPhase.lost;
    fullPhase.duplicated += warmPhase.duplicated;

    await fleet.reset();
    cpuBefore = cpu();
    redisBefore = await redisNow();
    const paced = await publisher.paced(durationS * 1000, pacedRate, pacedBatchSize);
    const pacedPhase = phaseResult(paced, await drain(fleet, paced.published), spent(cpu(), cpuBefore));
    const redisAfterPaced = await redisNow();
    if (redisBefore && redisAfterPaced) pacedPhase.redis = counted(redisAfterPaced, redisBefore);
    console.log(
      `${label}: full ${Math.round(fullPhase.rate)} ev/s (p50 ${fullPhase.p50} ms, p99 ${fullPhase.p99} ms), ` +
        `paced ${Math.round(pacedPhase.rate)} ev/s (p50 ${pacedPhase.p50} ms, p99 ${pacedPhase.p99} ms), ` +
        `lost ${fullPhase.lost + pacedPhase.lost}, duplicated ${fullPhase.duplicated + pacedPhase.duplicated}; ` +
        `paced events over ${LATE_MS} ms sent in ${pacedPhase.lateWindows.windows} of ${pacedPhase.lateWindows.of} 100-ms windows, ` +
        `worst [s, events, max ms]: ${JSON.stringify(pacedPhase.lateWindows.worst)} (paced phase from epoch ms ${Math.round(paced.startedAt)})`,
    );
    return { sessions: targets.length, openMs: opened.ms, full: fullPhase, paced: pacedPhase };
  } finally {
    await fleet.close();
  }
}
