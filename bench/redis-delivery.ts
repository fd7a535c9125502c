/**
 * Delivery through Redis (issue 7, item 5): the delivery run with STORE=redis
 * and two gateway instances on one redis-server of the benchmark's own
 * (free port, no persistence). Sessions and sockets alternate between the
 * instances and the platform's batches alternate too, so that most events
 * cross from one instance to the other. Compared with the single-instance
 * STORE=memory gateway at the same size: measured in the same `npm run
 * bench` by bench/delivery.ts, or here when run alone.
 *
 *   npx ts-node --transpile-only bench/redis-delivery.ts   (BENCH_REDIS_SIZES=..., BENCH_QUICK=1)
 */
import Redis from 'ioredis';
import { loadavg } from 'node:os';
import { gatewayDelivery } from './delivery';
import { DeliveryRun, deliveryRun } from './support/delivery-run';
import { options } from './support/options';
import { ownRedis } from './support/redis';
import { BenchReport, ratioTarget, Row, runAsScript, TargetResult } from './support/report';
import { round } from './support/stats';
import { GatewayWorld } from './support/world';

/** Commands Redis ran since start (INFO commandstats), busiest first. */
async function commandStats(url: string): Promise<Array<{ command: string; calls: number }>> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('commandstats');
    return [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
      .map(([, command, calls]) => ({ command, calls: Number(calls) }))
      .sort((a, b) => b.calls - a.calls);
  } finally {
    client.disconnect();
  }
}

export interface RedisPair {
  sessions: number;
  redis: DeliveryRun;
  memory: DeliveryRun;
  /** Redis commands per delivered event, over setup and both phases. */
  commandsPerEvent: number;
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
        const run = await deliveryRun(gateways, targets, world.platformToken, `redis x2 ${sessions}`, redis.pid);
        const stats = await commandStats(redis.url);
        const calls = stats.reduce((n, s) => n + s.calls, 0);
        const delivered = run.full.delivered + run.paced.delivered;
        pairs.push({
          sessions,
          redis: run,
          memory,
          commandsPerEvent: delivered ? calls / delivered : 0,
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
    targets.push(rate);
    rows.push(
      { label: `${sessions} sockets, full speed`, unit: 'events/s', gateway: rate.gateway, baseline: rate.baseline, target: '≥ 0.60', met: rate.met },
      { label: `${sessions} sockets, full speed p99`, unit: 'ms', gateway: redis.full.p99, baseline: memory.full.p99, lowerIsBetter: true },
      { label: `${sessions} sockets, ${options.delivery.pacedRate}/s p50`, unit: 'ms', gateway: redis.paced.p50, baseline: memory.paced.p50, lowerIsBetter: true },
      { label: `${sessions} sockets, ${options.delivery.pacedRate}/s p99`, unit: 'ms', gateway: redis.paced.p99, baseline: memory.paced.p99, lowerIsBetter: true },
      { label: `${sessions} sockets, gateway CPU per event`, unit: 'µs', gateway: round(redis.full.cpuUsPerEvent), baseline: round(memory.full.cpuUsPerEvent), lowerIsBetter: true },
      { label: `${sessions} sockets, redis-server CPU per event`, unit: 'µs', gateway: round(redis.full.otherCpuUsPerEvent.redis ?? 0), baseline: 0, lowerIsBetter: true },
      { label: `${sessions} sockets, clients + publisher CPU per event`, unit: 'µs', gateway: round(clientSide(redis)), baseline: round(clientSide(memory)), lowerIsBetter: true },
      { label: `${sessions} sockets, Redis commands per event`, unit: 'commands', gateway: round(commandsPerEvent), baseline: 0, lowerIsBetter: true },
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
