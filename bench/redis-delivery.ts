/**
 * Delivery through Redis: the delivery run with STORE=redis and two gateway
 * instances on one redis-server of the benchmark's own (free port, no
 * persistence). Sessions and sockets alternate between the instances and the
 * platform's batches alternate too, so that half the events are routed by the
 * instance that does not hold their socket. Compared with the single-instance
 * STORE=memory gateway at the same size: measured in the same `npm run bench`
 * by bench/delivery.ts, or here when run alone.
 *
 *   npx ts-node --transpile-only bench/redis-delivery.ts   (BENCH_REDIS_SIZES=..., BENCH_QUICK=1)
 */
import { loadavg } from 'node:os';
import { gatewayDelivery } from './delivery';
import { DeliveryRun, deliveryRun } from './support/delivery-run';
import { options } from './support/options';
import { ownRedis } from './support/redis';
import { commandStats } from './support/redis-stats';
import { BenchReport, limitTarget, ratioTarget, Row, runAsScript, TargetResult } from './support/report';
import { round } from './support/stats';
import { GatewayWorld } from './support/world';

export interface RedisPair {
  sessions: number;
  redis: DeliveryRun;
  memory: DeliveryRun;
  /** Redis commands per delivered event over the full-speed phase, and over the paced one (heartbeats included). */
  commandsPerEvent: { full: number; paced: number };
  topCommands: string;
}

/** `memoryRuns`: the single-instance STORE=memory figures of the same run, by size; measured here when absent. */
export async function runRedisDelivery(memoryRuns: Map<number, DeliveryRun> = new Map()): Promise<BenchReport> {
  const world = await GatewayWorld.create();
  const pairs: RedisPair[] = [];
  try {
    for (const sessions of options.redis.sizes) {
      const memory = memoryRuns.get(sessions) ?? (await gatewayDelivery(world, sessions, `redis-ref-memory-${sessions}`));
      // A fresh Redis per size: nothing of the last run is left in it.
      const redis = await ownRedis();
      try {
        const gateways = await world.startGateways(`redis-gateway-${sessions}`, 2, { STORE: 'redis', REDIS_URL: redis.url });
        const targets = await world.setupSessions(sessions);
        const run = await deliveryRun(gateways, targets, world.platformToken, `redis x2 ${sessions}`, redis);
        const stats = await commandStats(redis.url);
        const perEvent = (phase: DeliveryRun['full']) => (phase.delivered && phase.redis ? phase.redis.commands / phase.delivered : 0);
        pairs.push({
          sessions,
          redis: run,
          memory,
          commandsPerEvent: { full: perEvent(run.full), paced: perEvent(run.paced) },
          topCommands: stats.slice(0, 6).map((s) => `${s.command} ${s.calls}`).join(', '),
        });
      } finally {
        await world.stopGateways();
        await redis.close();
      }
    }
  } finally {
    await world.close();
  }

  const rows: Row[] = [];
  const targets: TargetResult[] = [];
  const clientSide = (run: DeliveryRun) => run.full.otherCpuUsPerEvent.clients + run.full.otherCpuUsPerEvent.publisher;
  for (const { sessions, redis, memory, commandsPerEvent } of pairs) {
    const rate = ratioTarget(`redis.${sessions}.events`, 'events/s', redis.full.rate, memory.full.rate, 0.6);
    // Keeping the pace: the paced phase delivers what was asked of it, at a latency near one instance's.
    const asked = options.delivery.pacedRate * options.delivery.durationS;
    const kept = ratioTarget(`redis.${sessions}.paced-kept`, 'events', redis.paced.delivered, asked, 0.99);
    const pacedP99 = limitTarget(`redis.${sessions}.paced-p99`, 'ms', redis.paced.p99, memory.paced.p99, 2 * memory.paced.p99 + 10);
    const commands = limitTarget(`redis.${sessions}.commands-per-event`, 'commands', commandsPerEvent.full, 0, 1.5);
    targets.push(rate, kept, pacedP99, commands);
    rows.push(
      { label: `${sessions} sockets, full speed`, unit: 'events/s', gateway: rate.gateway, baseline: rate.baseline, target: '≥ 0.60', met: rate.met },
      { label: `${sessions} sockets, full speed p99`, unit: 'ms', gateway: redis.full.p99, baseline: memory.full.p99, lowerIsBetter: true },
      { label: `${sessions} sockets, ${options.delivery.pacedRate}/s delivered`, unit: 'events', gateway: kept.gateway, baseline: kept.baseline, target: '≥ 0.99', met: kept.met },
      { label: `${sessions} sockets, ${options.delivery.pacedRate}/s p50`, unit: 'ms', gateway: redis.paced.p50, baseline: memory.paced.p50, lowerIsBetter: true },
      { label: `${sessions} sockets, ${options.delivery.pacedRate}/s p99`, unit: 'ms', gateway: redis.paced.p99, baseline: memory.paced.p99, lowerIsBetter: true, target: `≤ ${pacedP99.target} ms`, met: pacedP99.met },
      { label: `${sessions} sockets, gateway CPU per event`, unit: 'µs', gateway: round(redis.full.cpuUsPerEvent), baseline: round(memory.full.cpuUsPerEvent), lowerIsBetter: true },
      { label: `${sessions} sockets, redis-server CPU per event`, unit: 'µs', gateway: round(redis.full.otherCpuUsPerEvent.redis ?? 0), baseline: 0, lowerIsBetter: true },
      { label: `${sessions} sockets, clients + publisher CPU per event`, unit: 'µs', gateway: round(clientSide(redis)), baseline: round(clientSide(memory)), lowerIsBetter: true },
      { label: `${sessions} sockets, Redis commands per event, full speed`, unit: 'commands', gateway: round(commandsPerEvent.full), baseline: 0, lowerIsBetter: true, target: '≤ 1.5', met: commands.met },
      { label: `${sessions} sockets, Redis commands per event, paced`, unit: 'commands', gateway: round(commandsPerEvent.paced), baseline: 0, lowerIsBetter: true },
    );
  }
  const faults = (run: DeliveryRun) => run.full.lost + run.full.duplicated + run.paced.lost + run.paced.duplicated;
  return {
    bench: 'redis-delivery',
    title: 'Delivery through Redis: STORE=redis, two instances, one redis-server',
    baselineName: 'the gateway, STORE=memory, one instance',
    rows,
    targets,
    faults: { gateway: pairs.reduce((n, p) => n + faults(p.redis), 0), baseline: pairs.reduce((n, p) => n + faults(p.memory), 0) },
    notes: [
      'both instances, the redis-server, the clients and the publisher share the same cores; gateway CPU per event is summed over both instances, redis-server and the clients are measured apart (all at full speed)',
      ...pairs.map((p) => `${p.sessions}: busiest Redis commands (setup and both phases): ${p.topCommands}`),
    ],
    date: new Date().toISOString(),
    load: loadavg(),
  };
}

if (require.main === module) runAsScript(runRedisDelivery);
