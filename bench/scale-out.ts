/**
 * What scale-out costs, on one redis-server of the benchmark's own:
 *
 * - idle sockets: STORE=redis, two instances, BENCH_IDLE_SOCKETS sockets
 *   open and silent for BENCH_IDLE_S seconds; the Redis commands they cost
 *   (INFO commandstats over the wait, heartbeats and instance beats
 *   included), per socket per minute.
 * - capacity: the same moderate paced load on 2 and then on 4 instances
 *   (sessions, sockets and batches spread over all of them); the CPU per
 *   event summed over the instances, and the bytes Redis sent per instance
 *   per event. With targeted delivery the sum stays flat as instances are
 *   added; with one broadcast channel every instance would parse every
 *   delivery and the sum would grow with the instances.
 *
 *   npx ts-node --transpile-only bench/scale-out.ts   (BENCH_QUICK=1 for a smoke run)
 */
import { loadavg } from 'node:os';
import { ClientFleet } from './support/client-fleet';
import { drain } from './support/delivery-run';
import { options } from './support/options';
import { cpuSeconds, ServerProcess } from './support/processes';
import { Publisher } from './support/publisher';
import { ownRedis } from './support/redis';
import { commandStats, counted, redisCounters } from './support/redis-stats';
import { BenchReport, limitTarget, ratioTarget, Row, runAsScript, TargetResult } from './support/report';
import { nowMs, round, sleep } from './support/stats';
import { GatewayWorld } from './support/world';

interface CapacityRun {
  instances: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Gateway CPU per delivered event, summed over the instances. */
  cpuUsPerEvent: number;
  /** The same less what the instances spend idle over as long (timers, heartbeats, instance beats, GC). */
  cpuUsPerEventAboveIdle: number;
  /** Bytes Redis sent over the phase, per instance, per delivered event. */
  bytesPerInstancePerEvent: number;
  commandsPerEvent: number;
  /** The busiest Redis commands of the run (setup included). */
  topCommands: string;
}

async function idleCost(world: GatewayWorld): Promise<{ perSocketPerMinute: number; sockets: number; seconds: number }> {
  const redis = await ownRedis();
  const fleet = await ClientFleet.start(options.delivery.clientProcesses);
  try {
    await world.startGateways('scale-idle', 2, { STORE: 'redis', REDIS_URL: redis.url });
    const targets = await world.setupSessions(options.scaleOut.idleSockets);
    const opened = await fleet.open(targets);
    if (opened.failed) throw new Error(`idle: ${opened.failed} sockets failed to open: ${opened.errors.join('; ')}`);
    // The sockets' own opening work is over before counting starts.
    await sleep(2_000);
    const before = await redisCounters(redis.url);
    const startedAt = nowMs();
    await sleep(options.scaleOut.idleS * 1000);
    const seconds = (nowMs() - startedAt) / 1000;
    const spent = counted(await redisCounters(redis.url), before);
    const sockets = targets.length;
    console.log(`idle: ${sockets} sockets, ${seconds.toFixed(0)} s: ${spent.commands} Redis commands`);
    return { perSocketPerMinute: spent.commands / sockets / (seconds / 60), sockets, seconds };
  } finally {
    await fleet.close();
    await world.stopGateways();
    await redis.close();
  }
}

async function capacity(world: GatewayWorld, instances: number): Promise<CapacityRun> {
  const redis = await ownRedis();
  const fleet = await ClientFleet.start(options.delivery.clientProcesses);
  try {
    const gateways: ServerProcess[] = await world.startGateways(`scale-${instances}`, instances, { STORE: 'redis', REDIS_URL: redis.url });
    const targets = await world.setupSessions(options.scaleOut.sockets);
    const opened = await fleet.open(targets);
    if (opened.failed) throw new Error(`capacity: ${opened.failed} sockets failed to open: ${opened.errors.join('; ')}`);
    const publisher = new Publisher(
      gateways.map((g) => g.url),
      targets.map((t) => t.identity),
      world.platformToken,
    );
    // Every instance routes an event to every identity first: the phase measures warm routing caches, the steady state,
    // not each instance's first look at each session (which a longer run would amortize).
    let warmed = 0;
    for (const gateway of gateways) {
      warmed += await new Publisher([gateway.url], publisher.identities, world.platformToken).publishToEach(publisher.identities, 100);
    }
    const warm = await publisher.paced(2_000, options.scaleOut.rate, 100);
    await drain(fleet, warmed + warm.published);
    await fleet.reset();

    const cpu = () => gateways.reduce((sum, g) => sum + cpuSeconds(g.pid), 0);
    // What the instances cost with their sockets open and no events, over the phase's length.
    const idleBefore = cpu();
    await sleep(options.scaleOut.durationS * 1000);
    const idleSpent = cpu() - idleBefore;
    const cpuBefore = cpu();
    const redisBefore = await redisCounters(redis.url);
    const paced = await publisher.paced(options.scaleOut.durationS * 1000, options.scaleOut.rate, 100);
    const stats = await drain(fleet, paced.published);
    const spent = counted(await redisCounters(redis.url), redisBefore);
    const cpuSpent = cpu() - cpuBefore;
    const delivered = stats.unique || 1;
    const run: CapacityRun = {
      instances,
      delivered: stats.unique,
      lost: paced.published - stats.unique + stats.misrouted,
      duplicated: stats.duplicates,
      cpuUsPerEvent: (cpuSpent / delivered) * 1e6,
      cpuUsPerEventAboveIdle: (Math.max(0, cpuSpent - idleSpent) / delivered) * 1e6,
      bytesPerInstancePerEvent: spent.outputBytes / instances / delivered,
      commandsPerEvent: spent.commands / delivered,
      topCommands: (await commandStats(redis.url)).slice(0, 8).map((c) => `${c.command} ${c.calls}`).join(', '),
    };
    console.log(
      `capacity, ${instances} instances: ${run.delivered} delivered, ${round(run.cpuUsPerEvent)} µs CPU/event summed ` +
        `(${round(run.cpuUsPerEventAboveIdle)} above idle), ` +
        `${round(run.bytesPerInstancePerEvent)} B from Redis per instance per event, ${round(run.commandsPerEvent)} commands/event; ` +
        `busiest: ${run.topCommands}`,
    );
    return run;
  } finally {
    await fleet.close();
    await world.stopGateways();
    await redis.close();
  }
}

export async function runScaleOut(): Promise<BenchReport> {
  const world = await GatewayWorld.create();
  let idle: Awaited<ReturnType<typeof idleCost>>;
  let two: CapacityRun;
  let four: CapacityRun;
  try {
    idle = await idleCost(world);
    two = await capacity(world, 2);
    four = await capacity(world, 4);
  } finally {
    await world.close();
  }
  const targets: TargetResult[] = [
    limitTarget('scale-out.idle-commands-per-socket-minute', 'commands', idle.perSocketPerMinute, 0, 1),
    ratioTarget('scale-out.cpu-per-event-4-vs-2', 'µs', four.cpuUsPerEvent, two.cpuUsPerEvent, 1.15, true),
  ];
  const rows: Row[] = [
    {
      label: `${idle.sockets} idle sockets, ${Math.round(idle.seconds)} s: Redis commands per socket per minute`,
      unit: 'commands',
      gateway: round(idle.perSocketPerMinute),
      baseline: 0,
      lowerIsBetter: true,
      target: '≤ 1',
      met: targets[0].met,
    },
    {
      label: `${options.scaleOut.rate}/s, ${options.scaleOut.sockets} sockets: CPU per event summed, 4 instances vs 2`,
      unit: 'µs',
      gateway: round(four.cpuUsPerEvent),
      baseline: round(two.cpuUsPerEvent),
      lowerIsBetter: true,
      target: '≤ 1.15',
      met: targets[1].met,
    },
    {
      label: 'the same, less the instances\' idle CPU over as long',
      unit: 'µs',
      gateway: round(four.cpuUsPerEventAboveIdle),
      baseline: round(two.cpuUsPerEventAboveIdle),
      lowerIsBetter: true,
    },
    {
      label: 'bytes from Redis per instance per event, 4 instances vs 2',
      unit: 'B',
      gateway: round(four.bytesPerInstancePerEvent),
      baseline: round(two.bytesPerInstancePerEvent),
      lowerIsBetter: true,
    },
    { label: 'Redis commands per event, 4 instances vs 2', unit: 'commands', gateway: round(four.commandsPerEvent), baseline: round(two.commandsPerEvent), lowerIsBetter: true },
  ];
  return {
    bench: 'scale-out',
    title: 'Scale-out on one Redis: idle sockets, and 4 instances against 2 at the same load',
    baselineName: 'two instances (capacity rows); none (idle row)',
    rows,
    targets,
    faults: { gateway: four.lost + four.duplicated + two.lost + two.duplicated, baseline: 0 },
    notes: [
      'every instance, the redis-server and the clients share the same 2 cores; CPU is the instances\' sum, so a flat figure means an added instance adds no work to the others',
      `busiest Redis commands, 2 instances: ${two.topCommands}`,
      `busiest Redis commands, 4 instances: ${four.topCommands}`,
    ],
    date: new Date().toISOString(),
    load: loadavg(),
  };
}

if (require.main === module) runAsScript(runScaleOut);
