/**
 * Delivery benchmark (issue 7, item 2): 1,000 / 5,000 / 10,000 sessions with
 * open sockets held by client processes, the platform posting batches of
 * events for random identities; delivered events/s and ingest-to-client
 * latency at full speed and paced, against the raw Fastify + ws baseline.
 *
 *   npx ts-node --transpile-only bench/delivery.ts     (BENCH_SIZES=1000, BENCH_QUICK=1, ...)
 */
import { loadavg } from 'node:os';
import { DeliveryRun, deliveryRun } from './support/delivery-run';
import { options } from './support/options';
import { ServerProcess } from './support/processes';
import { BenchReport, limitTarget, ratioTarget, Row, runAsScript, TargetResult } from './support/report';
import { round } from './support/stats';
import { baselineTargets, GatewayWorld } from './support/world';

export interface DeliveryPair {
  sessions: number;
  gateway: DeliveryRun;
  baseline: DeliveryRun;
}

const faultsOf = (run: DeliveryRun) => run.full.lost + run.full.duplicated + run.paced.lost + run.paced.duplicated;

/** The gateway (STORE=memory, one instance) at one size. */
export async function gatewayDelivery(world: GatewayWorld, sessions: number, name: string): Promise<DeliveryRun> {
  const [gateway] = await world.startGateways(name, 1);
  try {
    const targets = await world.setupSessions(sessions);
    return await deliveryRun([gateway], targets, world.platformToken, `${name} ${sessions}`);
  } finally {
    await world.stopGateways();
  }
}

export async function runDelivery(): Promise<{ report: BenchReport; pairs: DeliveryPair[] }> {
  const world = await GatewayWorld.create();
  const pairs: DeliveryPair[] = [];
  try {
    for (const sessions of options.delivery.sizes) {
      const raw = await ServerProcess.baseline(`delivery-raw-ws-${sessions}`, 'raw-ws-server.ts');
      let baseline: DeliveryRun;
      try {
        baseline = await deliveryRun([raw], baselineTargets(raw, world.identities.slice(0, sessions)), undefined, `raw ws ${sessions}`);
      } finally {
        await raw.stop();
      }
      const gateway = await gatewayDelivery(world, sessions, `delivery-gateway-${sessions}`);
      pairs.push({ sessions, gateway, baseline });
    }
  } finally {
    await world.close();
  }
  return { report: deliveryReport(pairs), pairs };
}

export function deliveryReport(pairs: DeliveryPair[]): BenchReport {
  const { pacedRate, durationS, batchSize, pacedBatchSize, inFlight, clientProcesses } = options.delivery;
  const rows: Row[] = [];
  const targets: TargetResult[] = [];
  for (const { sessions, gateway, baseline } of pairs) {
    const rate = ratioTarget(`delivery.${sessions}.events`, 'events/s', gateway.full.rate, baseline.full.rate, 0.8);
    const limit = 1.25 * baseline.paced.p99 + 5;
    const p99 = limitTarget(`delivery.${sessions}.paced.p99`, 'ms', gateway.paced.p99, baseline.paced.p99, limit);
    targets.push(rate, p99);
    rows.push(
      { label: `${sessions} sockets, full speed`, unit: 'events/s', gateway: rate.gateway, baseline: rate.baseline, target: '≥ 0.80', met: rate.met },
      { label: `${sessions} sockets, full speed p50`, unit: 'ms', gateway: gateway.full.p50, baseline: baseline.full.p50, lowerIsBetter: true },
      { label: `${sessions} sockets, full speed p99`, unit: 'ms', gateway: gateway.full.p99, baseline: baseline.full.p99, lowerIsBetter: true },
      { label: `${sessions} sockets, ${pacedRate}/s p50`, unit: 'ms', gateway: gateway.paced.p50, baseline: baseline.paced.p50, lowerIsBetter: true },
      { label: `${sessions} sockets, ${pacedRate}/s p99`, unit: 'ms', gateway: gateway.paced.p99, baseline: baseline.paced.p99, lowerIsBetter: true, target: `≤ ${round(limit)} ms`, met: p99.met },
      { label: `${sessions} sockets, server CPU per event`, unit: 'µs', gateway: round(gateway.full.cpuUsPerEvent), baseline: round(baseline.full.cpuUsPerEvent), lowerIsBetter: true },
    );
  }
  const notes = pairs.flatMap(({ sessions, gateway, baseline }) => {
    const out: string[] = [];
    for (const [side, run] of [['gateway', gateway], ['baseline', baseline]] as const) {
      const closed = { ...run.full.closed, ...run.paced.closed };
      if (Object.keys(closed).length) out.push(`${sessions} ${side}: sockets closed by the server: ${JSON.stringify(closed)}`);
      if (run.paced.late) out.push(`${sessions} ${side}: the paced publisher missed ${run.paced.late} slots (server behind)`);
    }
    return out;
  });
  return {
    bench: 'delivery',
    title: `Delivery: STORE=memory, ${durationS} s per phase, batches of ${batchSize} (${inFlight} in flight) / paced ${pacedRate}/s in batches of ${pacedBatchSize}`,
    baselineName: 'raw Fastify + ws, Map lookup',
    rows,
    targets,
    faults: {
      gateway: pairs.reduce((n, p) => n + faultsOf(p.gateway), 0),
      baseline: pairs.reduce((n, p) => n + faultsOf(p.baseline), 0),
    },
    notes: [`clients in ${clientProcesses} processes; publisher in the benchmark process; all on one machine`, ...notes],
    date: new Date().toISOString(),
    load: loadavg(),
  };
}

if (require.main === module) runAsScript(async () => (await runDelivery()).report);
