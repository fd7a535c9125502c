/**
 * The gateway's own cost per event, in-process and without sockets: batches
 * of 500 published events parsed and routed (session lookup, subscription
 * check, envelope, buffer append, bus) by the compiled gateway with 5,000
 * sessions. CPU time, minimum of 9 runs: far steadier than the end-to-end
 * delivery figures on a shared machine, so it is the number to compare
 * commits by (docs/benchmarks.md, Delivery). No sockets are open, so the
 * dispatch finds nobody to write to.
 *
 *   npx ts-node --transpile-only bench/route-cost.ts     (BENCH_ROUTE_SESSIONS, BENCH_SKIP_BUILD=1)
 */
import { join } from 'node:path';
import { writeDirectory } from './support/directory';
import { BUILD_DIR, buildGateway } from './support/processes';

const SESSIONS = Number(process.env.BENCH_ROUTE_SESSIONS ?? 5000);
const BATCH = 500;
const BATCHES = 40;
const RUNS = 9;

async function main(): Promise<void> {
  buildGateway();
  const load = (module: string) => require(join(BUILD_DIR, module));
  const { Logger } = require('@nestjs/common');
  const { createApp } = load('app');
  const { loadConfig } = load('config/load-config');
  const { EventRouter } = load('events/event-router');
  const { EventCatalogue } = load('events/catalogue');
  const { parsePublished } = load('events/ingress');
  const { SessionService } = load('session/session.service');

  Logger.overrideLogger(false);
  const directory = writeDirectory(SESSIONS / 2, 2);
  const config = loadConfig({ NODE_ENV: 'test', STORE: 'memory', DIRECTORY_FILE: directory.file, DEV_KEY_DIR: join(BUILD_DIR, '..', 'bench', 'dev-key'), PORT: '0' });
  const app = await createApp(config, { silent: true });
  try {
    const identities: string[] = [];
    for (const user of directory.users) {
      for (const identity of user.identities) {
        await app.get(SessionService).setup({ sub: user.sub, mode: 'user', scopes: new Set(['vora:user']) }, { connectionType: 'WEB', identity });
        identities.push(identity);
      }
    }
    const router = app.get(EventRouter);
    const catalogue = app.get(EventCatalogue);
    const batch = () =>
      JSON.stringify(
        Array.from({ length: BATCH }, (_, seq) => ({
          event: 'PresenceChanged',
          identity: identities[Math.floor(Math.random() * identities.length)],
          data: { seq, sentAt: Date.now(), status: 'available' },
        })),
      );
    const bodies = Array.from({ length: BATCHES }, batch);
    let best = Infinity;
    for (let run = 0; run < RUNS; run++) {
      const start = process.cpuUsage();
      for (const body of bodies) await router.route(parsePublished(JSON.parse(body), catalogue));
      const used = process.cpuUsage(start);
      best = Math.min(best, (used.user + used.system) / (BATCHES * BATCH));
    }
    console.log(`parse + route: ${best.toFixed(2)} µs per event (CPU, minimum of ${RUNS} runs of ${BATCHES} batches of ${BATCH}; ${SESSIONS} sessions, no sockets)`);
  } finally {
    await app.close();
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 100).unref());
