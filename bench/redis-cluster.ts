/**
 * Delivery on a Redis Cluster against delivery on one Redis, in the same
 * run: two gateway instances on one redis-server of the benchmark's own,
 * then two on a cluster of three masters with a replica each (six
 * redis-server processes, test/support/redis-cluster.ts), at each size of
 * BENCH_CLUSTER_SIZES (5,000 sockets by default). The same delivery run as
 * bench/redis-delivery.ts on each; Redis commands are counted on the
 * masters (a replica replays its master's writes), and printed per master
 * to show how the load spreads over the shards.
 *
 *   npx ts-node --transpile-only bench/redis-cluster.ts   (BENCH_CLUSTER_SIZES=..., BENCH_QUICK=1)
 */
import { loadavg } from 'node:os';
import { startRedisCluster } from '../test/support/redis-cluster';
import { DeliveryRun, deliveryRun } from './support/delivery-run';
import { options } from './support/options';
import { ownRedis } from './support/redis';
import { counted, redisCounters } from './support/redis-stats';
import { BenchReport, limitTarget, ratioTarget, Row, runAsScript, TargetResult } from './support/report';
import { round } from './support/stats';
import { GatewayWorld } from './support/world';

interface ClusterPair {
  sessions: number;
  single: DeliveryRun;
  cluster: DeliveryRun;
  commandsPerEvent: { single: number; cluster: number };
  /** Commands each master ran over the whole cluster run (setup included), by port. */
  perShard: Array<{ port: number; commands: number }>;
}

const perEvent = (phase: DeliveryRun['full']) => (phase.delivered && phase.redis ? phase.redis.commands / phase.delivered : 0);

async function onOneRedis(world: GatewayWorld, sessions: number): Promise<DeliveryRun> {
  const redis = await ownRedis();
  try {
    const gateways = await world.startGateways(`cluster-ref-${sessions}`, 2, { STORE: 'redis', REDIS_URL: redis.url });
    const targets = await world.setupSessions(sessions);
    return await deliveryRun(gateways, targets, world.platformToken, `one redis x2 ${sessions}`, redis);
  } finally {
    await world.stopGateways();
    await redis.close();
  }
}

async function onCluster(world: GatewayWorld, sessions: number): Promise<Omit<ClusterPair, 'single' | 'commandsPerEvent' | 'sessions'>> {
  const cluster = await startRedisCluster();
  try {
    const masterPorts = new Set((await cluster.masters()).map((master) => master.port));
    const masters = cluster
      .nodes()
      .filter((node) => masterPorts.has(node.port))
      .map((node) => ({ ...node, url: `redis://127.0.0.1:${node.port}` }));
    const before = await Promise.all(masters.map((master) => redisCounters(master.url)));
    const gateways = await world.startGateways(`cluster-${sessions}`, 2, cluster.env());
    const targets = await world.setupSessions(sessions);
    const run = await deliveryRun(gateways, targets, world.platformToken, `cluster x2 ${sessions}`, { nodes: masters });
    const after = await Promise.all(masters.map((master) => redisCounters(master.url)));
    const perShard = masters.map((master, i) => ({ port: master.port, commands: counted(after[i], before[i]).commands }));
    console.log(`cluster ${sessions}: commands per master over the run: ${perShard.map((s) => `${s.port} ${s.commands}`).join(', ')}`);
    return { cluster: run, perShard };
  } finally {
    await world.stopGateways();
    await cluster.close();
  }
}

export async function runRedisCluster(): Promise<BenchReport> {
  const world = await GatewayWorld.create();
  const pairs: ClusterPair[] = [];
  try {
    for (const sessions of options.cluster.sizes) {
      const single = await onOneRedis(world, sessions);
      const { cluster, perShard } = await onCluster(world, sessions);
      pairs.push({
        sessions,
        single,
        cluster,
        commandsPerEvent: { single: perEvent(single.full), cluster: perEvent(cluster.full) },
        perShard,
      });
    }
  } finally {
    await world.close();
  }

  const rows: Row[] = [];
  const targets: TargetResult[] = [];
  for (const { sessions, single, cluster, commandsPerEvent, perShard } of pairs) {
    const rate = ratioTarget(`cluster.${sessions}.events`, 'events/s', cluster.full.rate, single.full.rate, 0.7);
    // As low as on one Redis: within a tenth of it.
    const commands = limitTarget(`cluster.${sessions}.commands-per-event`, 'commands', commandsPerEvent.cluster, commandsPerEvent.single, commandsPerEvent.single * 1.1);
    targets.push(rate, commands);
    const total = perShard.reduce((n, s) => n + s.commands, 0) || 1;
    rows.push(
      { label: `${sessions} sockets, full speed`, unit: 'events/s', gateway: rate.gateway, baseline: rate.baseline, target: '≥ 0.70', met: rate.met },
      { label: `${sessions} sockets, full speed p99`, unit: 'ms', gateway: cluster.full.p99, baseline: single.full.p99, lowerIsBetter: true },
      { label: `${sessions} sockets, ${options.delivery.pacedRate}/s p99`, unit: 'ms', gateway: cluster.paced.p99, baseline: single.paced.p99, lowerIsBetter: true },
      { label: `${sessions} sockets, gateway CPU per event`, unit: 'µs', gateway: round(cluster.full.cpuUsPerEvent), baseline: round(single.full.cpuUsPerEvent), lowerIsBetter: true },
      { label: `${sessions} sockets, Redis CPU per event (masters)`, unit: 'µs', gateway: round(cluster.full.otherCpuUsPerEvent.redis ?? 0), baseline: round(single.full.otherCpuUsPerEvent.redis ?? 0), lowerIsBetter: true },
      {
        label: `${sessions} sockets, Redis commands per event, full speed`,
        unit: 'commands',
        gateway: round(commandsPerEvent.cluster),
        baseline: round(commandsPerEvent.single),
        lowerIsBetter: true,
        target: `≤ ${commands.target}`,
        met: commands.met,
      },
      {
        label: `${sessions} sockets, busiest master's share of the cluster's commands`,
        unit: '%',
        gateway: round((100 * Math.max(...perShard.map((s) => s.commands))) / total),
        baseline: round(100 / perShard.length),
        lowerIsBetter: true,
      },
    );
  }
  const faults = (run: DeliveryRun) => run.full.lost + run.full.duplicated + run.paced.lost + run.paced.duplicated;
  return {
    bench: 'redis-cluster',
    title: 'Delivery on a Redis Cluster: two instances on three masters (a replica each) against two on one Redis',
    baselineName: 'two instances on one redis-server, same run',
    rows,
    targets,
    faults: { gateway: pairs.reduce((n, p) => n + faults(p.cluster), 0), baseline: pairs.reduce((n, p) => n + faults(p.single), 0) },
    notes: [
      'both instances, the six redis-server processes (one for the baseline), the clients and the publisher share the same cores',
      'Redis commands and CPU are the masters\' (a replica replays its master\'s writes and is left out)',
      ...pairs.map((p) => `${p.sessions}: commands per master over the cluster run: ${p.perShard.map((s) => `:${s.port} ${s.commands}`).join(', ')}`),
    ],
    date: new Date().toISOString(),
    load: loadavg(),
  };
}

if (require.main === module) runAsScript(runRedisCluster);
