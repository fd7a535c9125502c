/**
 * Profiles the gateway under one benchmark's load and prints its top
 * functions by self time: the evidence docs/benchmarks.md quotes where a
 * target is missed. Only the load is profiled (through the inspector), not
 * start-up or the sessions' setup.
 *
 *   npx ts-node --transpile-only bench/profile.ts identity|setup|liveness|delivery|reconnect|redis [seconds]
 *
 * `redis` is the delivery load on two STORE=redis instances sharing a
 * redis-server of its own (bench/redis-delivery.ts): one profile per instance.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ClientFleet } from './support/client-fleet';
import { printTop } from './support/cpu-profile';
import { sendEachOnce } from './rest';
import { identityAt } from './support/directory';
import { options } from './support/options';
import { INSPECT_ARGS, PROFILE_DIR } from './support/processes';
import { Publisher } from './support/publisher';
import { ownRedis } from './support/redis';
import { sleep } from './support/stats';
import { GatewayWorld } from './support/world';

const SCENARIOS = ['identity', 'setup', 'liveness', 'delivery', 'reconnect', 'redis'] as const;
type Scenario = (typeof SCENARIOS)[number];

async function main(): Promise<void> {
  const scenario = process.argv[2] as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`usage: bench/profile.ts ${SCENARIOS.join('|')} [seconds]`);
  const seconds = Number(process.argv[3] ?? 10);
  const file = join(PROFILE_DIR, `profile-${scenario}-${Date.now()}.cpuprofile`);
  const world = await GatewayWorld.create();
  const redis = scenario === 'redis' ? await ownRedis() : undefined;
  try {
    const gateways = redis
      ? await world.startGateways(`profile-${scenario}`, 2, { STORE: 'redis', REDIS_URL: redis.url }, INSPECT_ARGS)
      : await world.startGateways(`profile-${scenario}`, 1, {}, INSPECT_ARGS);
    const [gateway] = gateways;
    if (scenario === 'identity' || scenario === 'setup' || scenario === 'liveness') {
      const tokens = await world.signTokens(options.rest.users);
      const requests =
        scenario === 'liveness'
          ? [{ method: 'GET' as const, path: '/health/liveness' }]
          : tokens.map((token, u) =>
              scenario === 'identity'
                ? { method: 'GET' as const, path: '/identity', headers: { authorization: `Bearer ${token}` } }
                : {
                    method: 'POST' as const,
                    path: '/identity/setup',
                    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
                    body: JSON.stringify({ connectionType: 'WEB', identity: identityAt(u * options.directory.identitiesPerUser) }),
                  },
            );
      // As in bench/rest.ts: every token verified once before the load, so that the profile shows the steady state.
      await sendEachOnce(gateway.url, requests);
      await gateway.cpuProfile(file, async () => {
        const result = await autocannon({ url: gateway.url, connections: options.rest.connections, duration: seconds, requests });
        console.log(`${scenario}: ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms`);
      });
    } else {
      const sessions = options.delivery.sizes.at(-1)!;
      const targets = await world.setupSessions(sessions);
      const fleet = await ClientFleet.start(options.delivery.clientProcesses);
      try {
        await fleet.open(targets);
        const publisher = new Publisher(gateways.map((g) => g.url), targets.map((t) => t.identity), world.platformToken);
        if (scenario === 'delivery' || scenario === 'redis') {
          await publisher.fullSpeed(2000, options.delivery.batchSize, options.delivery.inFlight);
          const load = async () => {
            const result = await publisher.fullSpeed(seconds * 1000, options.delivery.batchSize, options.delivery.inFlight);
            console.log(`${scenario}: ${Math.round(result.published / seconds)} events/s published to ${sessions} sockets`);
          };
          if (scenario === 'delivery') await gateway.cpuProfile(file, load);
          else {
            // Both instances profiled over the same load: the second's profile ends when the first's does.
            let stop!: () => void;
            const stopped = new Promise<void>((resolve) => (stop = resolve));
            await Promise.all([
              gateways[0].cpuProfile(file.replace('.cpuprofile', '-1.cpuprofile'), () => load().finally(stop)),
              gateways[1].cpuProfile(file.replace('.cpuprofile', '-2.cpuprofile'), () => stopped),
            ]);
          }
        } else {
          await publisher.publishToEach(targets.map((t) => t.identity), 500);
          for (let i = 0; i < 3; i++) {
            await fleet.drop();
            await sleep(2000);
            await publisher.publishToEach(targets.map((t) => t.identity), 500);
            await gateway.cpuProfile(file.replace('.cpuprofile', `-${i + 1}.cpuprofile`), async () => {
              const back = await fleet.reconnect(options.reconnect.concurrency, 1);
              console.log(`reconnect: ${back.ok} back in ${Math.round(back.ms)} ms`);
            });
          }
        }
        await sleep(1000);
      } finally {
        await fleet.close();
      }
    }
  } finally {
    await world.close();
    await redis?.close();
  }
  const stem = file.replace(/\.cpuprofile$/, '');
  const profiles = readdirSync(PROFILE_DIR)
    .map((f) => join(PROFILE_DIR, f))
    .filter((f) => f.startsWith(stem));
  for (const profile of profiles) printTop(profile, Number(process.env.TOP ?? 25));
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 100).unref());
