/**
 * REST benchmark: authenticated GET /identity and POST /identity/setup with
 * RS256 tokens from a pool of users, and the unauthenticated GET
 * /health/liveness, against raw Fastify routes that answer the same JSON;
 * and, as the framework's floor, bare NestJS routes that answer it too.
 * GET /identity also runs on a second gateway at LOG_LEVEL=info (an access
 * log line per request, the default level), in the same rounds.
 * autocannon, 50 connections, loopback.
 *
 *   npx ts-node --transpile-only bench/rest.ts        (BENCH_QUICK=1 for a smoke run)
 */
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { identityAt } from './support/directory';
import { httpRequest, mapLimit } from './support/http';
import { options } from './support/options';
import { cpuSeconds, ServerProcess } from './support/processes';
import { BenchReport, limitTarget, ratioTarget, Row, runAsScript } from './support/report';
import { median, round } from './support/stats';
import { GatewayWorld } from './support/world';

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** The server's user + system CPU time per answered request: steadier than req/s on a shared machine. */
  cpuUs: number;
}

type Request = NonNullable<autocannon.Options['requests']>[number];

async function cannon(server: ServerProcess, requests: Request[], durationS: number): Promise<Measured> {
  const cpuBefore = cpuSeconds(server.pid);
  const result = await autocannon({ url: server.url, connections: options.rest.connections, duration: durationS, requests });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuUs: ((cpuSeconds(server.pid) - cpuBefore) / Math.max(1, result.requests.total)) * 1e6,
  };
}

/** Every request once, `connections` at a time. */
export async function sendEachOnce(url: string, requests: Request[]): Promise<void> {
  await mapLimit(requests, options.rest.connections, async ({ method, path, headers, body }) => {
    const response = await httpRequest(method ?? 'GET', `${url}${path}`, body as string | undefined, headers as Record<string, string>);
    if (response.status >= 300) throw new Error(`warm-up ${method} ${path} answered ${response.status}: ${response.body}`);
  });
}

/**
 * Warm-up, then the measured run. The warm-up first sends every request once:
 * autocannon's connections walk the same list in step, so without it all 50
 * would present each token at the same moment while none is verified yet, and
 * a short run would measure little but that first pass (a herd no real
 * client population makes). Then a timed run for the JIT and the pools.
 */
async function measure(server: ServerProcess, requests: Request[]): Promise<Measured> {
  await sendEachOnce(server.url, requests);
  if (options.rest.warmupS > 0) await cannon(server, requests, options.rest.warmupS);
  const measured = await cannon(server, requests, options.rest.durationS);
  if (measured.non2xx || measured.errors) {
    throw new Error(`${server.url}${requests[0].path}: ${measured.non2xx} non-2xx answers and ${measured.errors} errors`);
  }
  return measured;
}

export async function runRest(): Promise<BenchReport> {
  const world = await GatewayWorld.create();
  const { rounds } = options.rest;
  try {
    const tokens = await world.signTokens(options.rest.users);
    const perUser = options.directory.identitiesPerUser;
    // One prebuilt request per user, so that autocannon spends nothing per request on building them.
    const identity: Request[] = tokens.map((token) => ({ method: 'GET', path: '/identity', headers: { authorization: `Bearer ${token}` } }));
    const setup: Request[] = tokens.map((token, u) => ({
      method: 'POST',
      path: '/identity/setup',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connectionType: 'WEB', identity: identityAt(u * perUser) }),
    }));
    const liveness: Request[] = [{ method: 'GET', path: '/health/liveness' }];
    const suites = { identity, setup, liveness };

    const gateway = (await world.startGateways('rest-gateway', 1))[0];
    // The same gateway writing an access log line per request (the default LOG_LEVEL), unless the level is pinned.
    const verbose = process.env.BENCH_LOG_LEVEL ? undefined : await ServerProcess.gateway('rest-gateway-log-info', world.gatewayEnv({ LOG_LEVEL: 'info' }));
    const raw = await ServerProcess.baseline('rest-raw-fastify', 'raw-rest-server.ts', { IDENTITIES_PER_USER: String(perUser) });
    const bare = await ServerProcess.baseline('rest-bare-nest', 'bare-nest-server.ts', { IDENTITIES_PER_USER: String(perUser) });
    const runs: Record<keyof typeof suites, { gateway: Measured[]; baseline: Measured[]; bare: Measured[]; logged: Measured[] }> = {
      identity: { gateway: [], baseline: [], bare: [], logged: [] },
      setup: { gateway: [], baseline: [], bare: [], logged: [] },
      liveness: { gateway: [], baseline: [], bare: [], logged: [] },
    };
    try {
      for (let round = 0; round < rounds; round++) {
        // Alternating gateway and baseline, so that a burst of noise does not hit only one side.
        for (const name of Object.keys(suites) as Array<keyof typeof suites>) {
          runs[name].baseline.push(await measure(raw, suites[name]));
          runs[name].gateway.push(await measure(gateway, suites[name]));
          if (name === 'identity' && verbose) runs[name].logged.push(await measure(verbose, suites[name]));
          // The bare NestJS reference has no setup route: opening a session is the gateway's own work.
          if (name !== 'setup') runs[name].bare.push(await measure(bare, suites[name]));
          const bareRps = runs[name].bare.at(-1)?.rps;
          console.log(
            `rest ${name} round ${round + 1}: gateway ${Math.round(runs[name].gateway.at(-1)!.rps)} req/s, raw ${Math.round(runs[name].baseline.at(-1)!.rps)} req/s` +
              (name === 'setup' ? '' : `, bare NestJS ${Math.round(bareRps!)} req/s`) +
              (runs[name].logged.length > round ? `, gateway at LOG_LEVEL=info ${Math.round(runs[name].logged.at(-1)!.rps)} req/s` : ''),
          );
        }
      }
    } finally {
      await raw.stop();
      await bare.stop();
      await verbose?.stop();
      await world.stopGateways();
    }

    const pick = (name: keyof typeof suites, side: 'gateway' | 'baseline' | 'bare' | 'logged', field: keyof Measured) => median(runs[name][side].map((m) => m[field]));
    const logged = verbose !== undefined;
    const identityTarget = ratioTarget('rest.identity', 'req/s', pick('identity', 'gateway', 'rps'), pick('identity', 'baseline', 'rps'), 0.7);
    // CPU per request against the bare NestJS route: what the gateway adds to the framework, steadier than req/s on a shared machine.
    const identityCpuTarget = ratioTarget('rest.identity.cpu', 'µs per request', pick('identity', 'gateway', 'cpuUs'), pick('identity', 'bare', 'cpuUs'), 1.5, true);
    const loggedTargets = logged
      ? [
          ratioTarget('rest.identity.log-info', 'req/s', pick('identity', 'logged', 'rps'), pick('identity', 'baseline', 'rps'), 0.7),
          ratioTarget('rest.identity.log-info.cpu', 'µs per request', pick('identity', 'logged', 'cpuUs'), pick('identity', 'bare', 'cpuUs'), 1.5, true),
        ]
      : [];
    const [loggedTarget, loggedCpuTarget] = loggedTargets;
    const p99Target = limitTarget('rest.identity.p99', 'ms', pick('identity', 'gateway', 'p99'), pick('identity', 'baseline', 'p99'), 5);
    const livenessTarget = ratioTarget('rest.liveness', 'req/s', pick('liveness', 'gateway', 'rps'), pick('liveness', 'baseline', 'rps'), 0.8);
    const rows: Row[] = [
      { label: 'GET /identity', unit: 'req/s', gateway: identityTarget.gateway, baseline: identityTarget.baseline, target: '≥ 0.70', met: identityTarget.met },
      { label: 'GET /identity p99', unit: 'ms', gateway: p99Target.gateway, baseline: p99Target.baseline, lowerIsBetter: true, target: '≤ 5 ms', met: p99Target.met },
      ...(loggedTarget
        ? [{ label: 'GET /identity, LOG_LEVEL=info', unit: 'req/s', gateway: loggedTarget.gateway, baseline: loggedTarget.baseline, target: '≥ 0.70', met: loggedTarget.met }]
        : []),
      { label: 'GET /identity, bare NestJS (no auth)', unit: 'req/s', gateway: round(pick('identity', 'bare', 'rps')), baseline: identityTarget.baseline },
      { label: 'GET /identity, CPU per request against bare NestJS', unit: 'µs', gateway: identityCpuTarget.gateway, baseline: identityCpuTarget.baseline, lowerIsBetter: true, target: '≤ 1.50', met: identityCpuTarget.met },
      ...(loggedCpuTarget
        ? [{ label: 'GET /identity, LOG_LEVEL=info, CPU per request against bare NestJS', unit: 'µs', gateway: loggedCpuTarget.gateway, baseline: loggedCpuTarget.baseline, lowerIsBetter: true, target: '≤ 1.50', met: loggedCpuTarget.met }]
        : []),
      { label: 'GET /identity, server CPU per request', unit: 'µs', gateway: round(pick('identity', 'gateway', 'cpuUs')), baseline: round(pick('identity', 'baseline', 'cpuUs')), lowerIsBetter: true },
      { label: 'GET /identity, bare NestJS CPU per request', unit: 'µs', gateway: round(pick('identity', 'bare', 'cpuUs')), baseline: round(pick('identity', 'baseline', 'cpuUs')), lowerIsBetter: true },
      { label: 'GET /identity p50', unit: 'ms', gateway: round(pick('identity', 'gateway', 'p50')), baseline: round(pick('identity', 'baseline', 'p50')), lowerIsBetter: true },
      { label: 'POST /identity/setup', unit: 'req/s', gateway: round(pick('setup', 'gateway', 'rps')), baseline: round(pick('setup', 'baseline', 'rps')) },
      { label: 'POST /identity/setup p99', unit: 'ms', gateway: round(pick('setup', 'gateway', 'p99')), baseline: round(pick('setup', 'baseline', 'p99')), lowerIsBetter: true },
      { label: 'GET /health/liveness', unit: 'req/s', gateway: livenessTarget.gateway, baseline: livenessTarget.baseline, target: '≥ 0.80', met: livenessTarget.met },
      { label: 'GET /health/liveness, bare NestJS', unit: 'req/s', gateway: round(pick('liveness', 'bare', 'rps')), baseline: livenessTarget.baseline },
      { label: 'GET /health/liveness, server CPU per request', unit: 'µs', gateway: round(pick('liveness', 'gateway', 'cpuUs')), baseline: round(pick('liveness', 'baseline', 'cpuUs')), lowerIsBetter: true },
      { label: 'GET /health/liveness, bare NestJS CPU per request', unit: 'µs', gateway: round(pick('liveness', 'bare', 'cpuUs')), baseline: round(pick('liveness', 'baseline', 'cpuUs')), lowerIsBetter: true },
      { label: 'GET /health/liveness p99', unit: 'ms', gateway: round(pick('liveness', 'gateway', 'p99')), baseline: round(pick('liveness', 'baseline', 'p99')), lowerIsBetter: true },
    ];
    return {
      bench: 'rest',
      title: `REST: ${options.rest.connections} connections, ${options.rest.durationS} s, RS256 tokens of ${tokens.length} users`,
      baselineName: 'raw Fastify route, same JSON',
      rows,
      targets: [identityTarget, identityCpuTarget, ...loggedTargets, p99Target, livenessTarget],
      faults: { gateway: 0, baseline: 0 },
      notes: [
        `autocannon runs in the benchmark process, the server in its own: on ${require('node:os').cpus().length} cores they share the CPU`,
        `median of ${rounds} round(s); each run preceded by a ${options.rest.warmupS} s warm-up`,
        'bare NestJS rows: NestJS on Fastify with one controller and nothing else (bench/baseline/bare-nest-server.ts), the floor of any Nest route, in the gateway column',
        `gateway with LOG_LEVEL=${process.env.BENCH_LOG_LEVEL ?? 'warn'}${logged ? '; the LOG_LEVEL=info rows are a second gateway, measured in the same rounds, writing an access log line per request' : ''}`,
      ],
      date: new Date().toISOString(),
      load: loadavg(),
    };
  } finally {
    await world.close();
  }
}

if (require.main === module) runAsScript(runRest);
