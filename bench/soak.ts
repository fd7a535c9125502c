/**
 * Soak test (issue 6): many clients set up sessions, subscribe, receive,
 * drop their sockets and resume with lastEventId, and log out, for several
 * minutes, while the platform publishes; every event owed to a live session
 * must arrive exactly once, in order.
 *
 *   npm run soak       (SOAK_DURATION_S, SOAK_CLIENTS, SOAK_RATE, SOAK_STORE=memory|redis, ... see README "Soak test")
 *
 * Everything runs on loopback and is started here: the gateway (compiled from
 * src/ into .data/soak/build; SOAK_SKIP_BUILD=1 reuses it), with
 * SOAK_STORE=redis a redis-server of its own and two gateway instances. The
 * run is bounded: after the build it ends within SOAK_DURATION_S + 60 s, and
 * every process it started is stopped, whatever happens.
 *
 * Accounting. The platform (this process) publishes events for an identity
 * only while that identity's session is live: from the moment its client has
 * set it up and subscribed, until the client asks to end it. Events carry the
 * session's epoch and a per-epoch sequence number (1, 2, 3, ...) in `data`.
 * Batches go out one at a time and a 202 means the gateway has buffered them,
 * so when a client asks to end its session the platform stops choosing that
 * identity, lets the batch in flight finish, and answers with the exact count
 * it owes. The client receives all of them before it logs out (logout deletes
 * the session's buffer; nothing published after it is owed to anyone). At the
 * end the platform's count of owed events must equal the clients' count of
 * distinct (identity, epoch, seq) received, with no duplicate, gap or
 * reordering. Events the subscription excludes are published too and must
 * never arrive.
 */
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { openDevIssuer } from '../src/auth/dev-issuer/dev-issuer.module';
import { loadConfig } from '../src/config/load-config';
import type { TestRedis } from '../test/support/redis-server';
import { softRequest, SoftAnswer } from './support/http';
import { compileGateway, INSPECT_ARGS, rssKiB, ServerProcess } from './support/processes';
import { ownRedis } from './support/redis';
import type { ClientSpec, ParentMessage, Progress, WorkerMessage, WorkerStats } from './soak-client';

const SUBSET_EVENTS = ['CallDelivered', 'CallCleared', 'PresenceChanged', 'VoicemailWaiting'];
/** Published to every identity; a subset subscription excludes it, so it must not reach those sessions. */
const FILTERED_EVENT = 'DoNotDisturbChanged';
const CALL_EVENTS = new Set(['CallDelivered', 'CallCleared']);

const ROOT = join(__dirname, '..');
const BUILD_DIR = join(ROOT, '.data', 'soak', 'build');
/** Logs of the last run (git-ignored), kept for a look after it. */
const LOG_DIR = join(ROOT, '.data', 'soak', 'logs');
const MAX_BATCH = 500;

function num(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

const options = {
  durationS: num('SOAK_DURATION_S', 180, 5, 3600),
  clients: Math.floor(num('SOAK_CLIENTS', 500, 2, 20_000)),
  rate: num('SOAK_RATE', 2000, 0, 100_000),
  store: (process.env.SOAK_STORE ?? 'memory') as 'memory' | 'redis',
  workers: Math.floor(num('SOAK_WORKERS', 4, 1, 32)),
  drainS: num('SOAK_DRAIN_S', 20, 1, 40),
  meanHoldS: num('SOAK_MEAN_HOLD_S', 5, 0.1, 600),
  logoutProbability: num('SOAK_LOGOUT_P', 0.25, 0, 1),
  batchIntervalMs: num('SOAK_BATCH_INTERVAL_MS', 50, 5, 1000),
  logLevel: process.env.SOAK_LOG_LEVEL ?? 'info',
  skipBuild: process.env.SOAK_SKIP_BUILD === '1',
};
if (options.store !== 'memory' && options.store !== 'redis') throw new Error(`SOAK_STORE must be memory or redis, got "${options.store}"`);
/** The run ends by then, whatever happens (after the build). */
const HARD_STOP_MS = (options.durationS + 60) * 1000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const bump = (map: Record<string, number>, key: string, by = 1) => (map[key] = (map[key] ?? 0) + by);

// ---------------------------------------------------------------- processes

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Temporary directories of the run (directory, development key), removed however the run ends. */
const tempDirs: string[] = [];

process.once('exit', () => {
  killAll();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every process of the soak`);
    killAll();
    process.exit(130);
  });
}

/** Resident set size of a process in KiB; 0 once it is gone. */
function rssKiBOrZero(pid: number | undefined): number {
  try {
    return pid === undefined ? 0 : rssKiB(pid);
  } catch {
    return 0;
  }
}

/** The kernel's count of connections dropped because a listen queue was full (system-wide; Linux /proc/net/netstat). */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]) || 0;
  } catch {
    return 0;
  }
}

/** Stops a child with SIGTERM, then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A gateway instance (the compiled build) with the inspector on loopback, so
 * that the soak can collect garbage before reading memory. Says at once when
 * it dies during the soak.
 */
async function startGateway(name: string, env: Record<string, string>): Promise<ServerProcess> {
  const gateway = await ServerProcess.node(name, [...INSPECT_ARGS, join(BUILD_DIR, 'main.js')], env, LOG_DIR);
  gateway.child.once('exit', () => {
    if (gateway.exitedEarly) console.error(`\n!! ${name} ${gateway.exitedEarly} during the soak; see ${gateway.logFile}`);
  });
  return gateway;
}

/** Two full garbage collections, then VmRSS and the V8 heap in use. */
async function memoryAfterGc(gateway: ServerProcess): Promise<Memory> {
  await gateway.collectGarbage();
  return { rssKiB: rssKiBOrZero(gateway.pid), heapUsedKiB: await gateway.heapUsedKiB() };
}

/** The gateway's /metrics, or nothing when it does not answer. */
async function scrape(gateway: ServerProcess): Promise<string> {
  try {
    return await (await fetch(`${gateway.url}/metrics`)).text();
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------- the platform

interface IdentityState {
  readonly identity: string;
  worker: ChildProcess;
  epoch: number;
  /** Subscribed to everything (else to SUBSET_EVENTS). */
  all: boolean;
  live: boolean;
  /** Index in Platform.live while live. */
  slot: number;
  nextSeq: number;
  /** Owed events of this epoch the gateway accepted with 202. */
  owed: number;
  /** The event name of each owed seq of this epoch (types[seq - 1]), so that a client can say what it missed. */
  types: string[];
  /**
   * Events for this identity in the batch in flight, owed or not: until the
   * gateway answers, any of them may still be routed to whatever session the
   * identity has by then, so the session may not end (and a next one begin) before.
   */
  inFlight: number;
  /** A quiesce waiting for the batch in flight. */
  quiescing: boolean;
}

const publishAgent = new Agent({ keepAlive: true, maxSockets: 4 });

/** POST on the keep-alive agent; sent once more when a reused connection was reset before it was read (see soak-client.ts). */
async function post(url: string, token: string, body: string): Promise<SoftAnswer> {
  const answer = await softRequest(publishAgent, 'POST', url, token, body, 60_000);
  return answer.reusedSocketReset ? softRequest(publishAgent, 'POST', url, token, body, 60_000) : answer;
}

/**
 * The telephony core: publishes batches to random live identities at
 * SOAK_RATE events/s, one batch at a time, and keeps the exact count of what
 * it owes every session.
 */
class Platform {
  private readonly states = new Map<string, IdentityState>();
  private readonly live: IdentityState[] = [];
  private stopping = false;
  private done: Promise<void> = Promise.resolve();
  private next = 0;
  published = 0;
  /** Owed to live sessions and accepted: "sent". */
  sent = 0;
  filtered = 0;
  batches = 0;
  /** Milliseconds each POST /events took. */
  readonly batchMs: number[] = [];
  /** Batches refused with a 4xx (nothing published: their sequence numbers are reused). */
  refused: Record<string, number> = {};
  /** Events of batches whose fate is unknown (5xx, network error): the count can no longer be exact. */
  ambiguous = 0;
  protocolErrors = 0;
  startedAt = 0;
  stoppedAt = 0;

  constructor(
    private readonly gateways: ServerProcess[],
    private readonly token: string,
  ) {}

  get liveCount(): number {
    return this.live.length;
  }

  onLive(worker: ChildProcess, message: Extract<WorkerMessage, { type: 'live' }>): void {
    let state = this.states.get(message.identity);
    if (state && (state.live || message.epoch <= state.epoch)) {
      this.protocolErrors++;
      console.error(`!! ${message.identity}: live epoch ${message.epoch} while epoch ${state.epoch} is ${state.live ? 'live' : 'over'}`);
      return;
    }
    if (!state) {
      state = {
        identity: message.identity,
        worker,
        epoch: 0,
        all: true,
        live: false,
        slot: -1,
        nextSeq: 1,
        owed: 0,
        types: [],
        inFlight: 0,
        quiescing: false,
      };
      this.states.set(message.identity, state);
    }
    Object.assign(state, { worker, epoch: message.epoch, all: message.events === null, nextSeq: 1, owed: 0, types: [], inFlight: 0, quiescing: false, live: true });
    state.slot = this.live.push(state) - 1;
  }

  onQuiesce(worker: ChildProcess, message: Extract<WorkerMessage, { type: 'quiesce' }>): void {
    const state = this.states.get(message.identity);
    if (!state || state.epoch !== message.epoch) {
      this.protocolErrors++;
      console.error(`!! ${message.identity}: quiesce of epoch ${message.epoch}, which the platform does not know`);
      // Nothing was published for it; answer so that the client does not wait forever.
      const answer: ParentMessage = { cmd: 'owed', identity: message.identity, epoch: message.epoch, count: 0, types: [] };
      if (worker.connected) worker.send(answer);
      return;
    }
    if (state.live) this.unlist(state);
    // The batch in flight may hold events for it: answer once the gateway answered.
    if (state.inFlight > 0) state.quiescing = true;
    else this.answer(state);
  }

  start(): void {
    this.startedAt = Date.now();
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
    this.stoppedAt = Date.now();
  }

  private answer(state: IdentityState): void {
    state.quiescing = false;
    const message: ParentMessage = { cmd: 'owed', identity: state.identity, epoch: state.epoch, count: state.owed, types: state.types };
    if (state.worker.connected) state.worker.send(message);
  }

  private unlist(state: IdentityState): void {
    state.live = false;
    const last = this.live.pop()!;
    if (last !== state) {
      this.live[state.slot] = last;
      last.slot = state.slot;
    }
    state.slot = -1;
  }

  private async loop(): Promise<void> {
    let tokens = 0;
    let last = Date.now();
    let tick = last;
    while (!this.stopping) {
      tick += options.batchIntervalMs;
      await sleep(tick - Date.now());
      if (tick < Date.now() - options.batchIntervalMs) tick = Date.now();
      const now = Date.now();
      // A bucket of at most one second of events: a slow answer makes the next batches bigger, not the rate lower.
      tokens = Math.min(tokens + (options.rate * (now - last)) / 1000, Math.max(options.rate, 1));
      last = now;
      if (!this.live.length) {
        tokens = 0;
        continue;
      }
      const size = Math.min(MAX_BATCH, Math.floor(tokens));
      if (size < 1) continue;
      tokens -= size;
      await this.publish(size);
    }
  }

  private async publish(size: number): Promise<void> {
    const events: unknown[] = [];
    /** Owed events per identity in this batch; `touched` also counts those the subscription excludes. */
    const counts = new Map<IdentityState, number>();
    const touched = new Map<IdentityState, number>();
    const sentAt = Date.now();
    for (let i = 0; i < size; i++) {
      const state = this.live[Math.floor(Math.random() * this.live.length)];
      const filteredType = Math.random() < 0.1;
      const event = filteredType ? FILTERED_EVENT : SUBSET_EVENTS[Math.floor(Math.random() * SUBSET_EVENTS.length)];
      const owed = state.all || !filteredType;
      const data: Record<string, unknown> = { epoch: state.epoch, sentAt };
      touched.set(state, (touched.get(state) ?? 0) + 1);
      if (owed) {
        const seq = state.nextSeq++;
        data.seq = seq;
        state.types[seq - 1] = event;
        counts.set(state, (counts.get(state) ?? 0) + 1);
      } else {
        data.filtered = true;
      }
      if (CALL_EVENTS.has(event)) Object.assign(data, { callId: `soak-${state.identity}-${state.epoch}-${i}`, direction: 'terminating', remoteParty: '+905550000000' });
      if (event === 'PresenceChanged') data.presence = 'available';
      events.push({ event, identity: state.identity, data });
    }
    for (const [state, count] of touched) state.inFlight += count;
    const gateway = this.gateways[this.next++ % this.gateways.length];
    const postedAt = Date.now();
    const answer = await post(`${gateway.url}/events`, this.token, JSON.stringify(events));
    this.batchMs.push(Date.now() - postedAt);
    this.batches++;
    const owedInBatch = [...counts.values()].reduce((a, b) => a + b, 0);
    if (answer.status === 202 && (JSON.parse(answer.body) as { accepted: number }).accepted === size) {
      this.published += size;
      this.sent += owedInBatch;
      this.filtered += size - owedInBatch;
      for (const [state, count] of counts) state.owed += count;
    } else if (answer.status >= 400 && answer.status < 500) {
      // Refused whole: nothing was published, and no later batch took sequence numbers.
      bump(this.refused, `POST /events ${answer.status}`);
      for (const [state, count] of counts) {
        state.nextSeq -= count;
        state.types.length = state.nextSeq - 1;
      }
    } else {
      this.ambiguous += size;
      bump(this.refused, `POST /events ${answer.error ?? answer.status} (fate unknown)`);
      for (const [state, count] of counts) state.owed += count;
    }
    for (const [state, count] of touched) {
      state.inFlight -= count;
      if (state.quiescing && state.inFlight === 0) this.answer(state);
    }
  }
}

// ---------------------------------------------------------------- the run

interface Memory {
  rssKiB: number;
  heapUsedKiB: number;
}

function writeDirectory(dir: string, clients: number): { file: string; specs: ClientSpec[] } {
  const users = Math.ceil(clients / 2);
  const entries = Array.from({ length: users }, (_, u) => {
    const sub = `soak-${String(u).padStart(5, '0')}`;
    const mobile = `+9053${String(u).padStart(8, '0')}`;
    const fixed = `+9021${String(u).padStart(8, '0')}`;
    return { sub, username: sub, identities: [mobile, fixed], fixedNumber: fixed, groups: [], manages: [] };
  });
  const file = join(dir, 'directory.json');
  writeFileSync(file, JSON.stringify({ users: entries }));
  // Two clients per user, one on each of its identities: a logout of one must not touch the other.
  const specs = Array.from({ length: clients }, (_, i) => ({ sub: entries[i >> 1].sub, identity: entries[i >> 1].identities[i & 1] }));
  return { file, specs };
}

function sumMetric(text: string, name: string, label?: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (label && !line.includes(label)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

function logSummary(file: string): { warn: number; error: number; samples: string[] } {
  let warn = 0;
  let error = 0;
  const samples = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
    if (level >= 50) error++;
    else if (level >= 40) warn++;
    else continue;
    const msg = /"msg":"([^"]{0,160})/.exec(line)?.[1] ?? line.slice(0, 160);
    samples.set(msg, (samples.get(msg) ?? 0) + 1);
  }
  return { warn, error, samples: [...samples].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([m, n]) => `${n} x ${m}`) };
}

function percentile(pairs: Array<[number, number]>, p: number): number {
  const total = pairs.reduce((n, [, c]) => n + c, 0);
  if (!total) return 0;
  let seen = 0;
  for (const [ms, count] of pairs) {
    seen += count;
    if (seen >= total * p) return ms;
  }
  return pairs[pairs.length - 1][0];
}

type Counter = { [K in keyof WorkerStats]: WorkerStats[K] extends number ? K : never }[keyof WorkerStats];
const COUNTERS: Counter[] = [
  'clients',
  'unfinished',
  'owed',
  'received',
  'missing',
  'duplicates',
  'outOfOrder',
  'stale',
  'filteredDelivered',
  'beyondOwed',
  'misrouted',
  'idHoles',
  'idRepeats',
  'setups',
  'sessions',
  'subscriptionsSubset',
  'subscriptionsDefault',
  'connects',
  'reconnects',
  'serverCloseReconnects',
  'resumes',
  'notRecovered',
  'sessionChanged',
  'logouts',
  'logoutsWithSocket',
  'logoutClose4000',
  'revokedChecks',
  'revokedRefused',
  'secondLogoutChecks',
  'secondLogout404',
  'keepAliveRetries',
];

function mergeStats(reports: WorkerStats[]): WorkerStats {
  const zero = Object.fromEntries(COUNTERS.map((key) => [key, 0])) as Record<Counter, number>;
  const merged: WorkerStats = { ...zero, closeCodes: {}, unexpectedCloses: {}, errors: {}, samples: [], latency: [], replayLatency: [] };
  const latency = new Map<number, number>();
  const replayLatency = new Map<number, number>();
  for (const r of reports) {
    for (const key of COUNTERS) merged[key] += r[key];
    for (const [k, v] of Object.entries(r.closeCodes)) bump(merged.closeCodes, k, v);
    for (const [k, v] of Object.entries(r.unexpectedCloses)) bump(merged.unexpectedCloses, k, v);
    for (const [k, v] of Object.entries(r.errors)) bump(merged.errors, k, v);
    merged.samples.push(...r.samples);
    for (const [ms, c] of r.latency) latency.set(ms, (latency.get(ms) ?? 0) + c);
    for (const [ms, c] of r.replayLatency) replayLatency.set(ms, (replayLatency.get(ms) ?? 0) + c);
  }
  merged.latency = [...latency].sort((a, b) => a[0] - b[0]);
  merged.replayLatency = [...replayLatency].sort((a, b) => a[0] - b[0]);
  return merged;
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim() ? ' (src/ has uncommitted changes)' : '';
    return rev + dirty;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  compileGateway(BUILD_DIR, options.skipBuild);
  const hardStop = setTimeout(() => {
    console.error(`\n!! HARD STOP: the soak did not finish within SOAK_DURATION_S + 60 s (${HARD_STOP_MS / 1000} s); killing everything`);
    killAll();
    process.exit(3);
  }, HARD_STOP_MS);
  hardStop.unref();

  // The directory and the development issuer's key of this run only; removed at the end.
  const runDir = mkdtempSync(join(tmpdir(), 'vora-soak-'));
  tempDirs.push(runDir);
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const devKeyDir = join(runDir, 'dev-key');
  const { signer } = await openDevIssuer(loadConfig({ DEV_KEY_DIR: devKeyDir }));
  const { file: directoryFile, specs } = writeDirectory(runDir, options.clients);
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
  const instances = options.store === 'redis' ? 2 : 1;
  console.log(
    `VORA Gateway soak: STORE=${options.store}, ${instances} gateway${instances > 1 ? 's' : ''}, ${options.clients} clients in ${options.workers} processes, ` +
      `${options.durationS} s at ${options.rate} events/s (hold ~${options.meanHoldS} s, logout p=${options.logoutProbability})`,
  );
  console.log(`machine: ${machine}; gateway at ${gitRevision()}; logs in ${LOG_DIR}`);

  let redis: TestRedis | undefined;
  const gateways: ServerProcess[] = [];
  const workers: ChildProcess[] = [];
  let platform: Platform | undefined;
  try {
    if (options.store === 'redis') redis = await ownRedis();
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      DEV_KEY_DIR: devKeyDir,
      DIRECTORY_FILE: directoryFile,
      STORE: options.store,
      LOG_LEVEL: options.logLevel,
      // Every client is on loopback, and the per-caller rate limits are not what this measures.
      RATE_LIMIT_PER_MINUTE: '1000000000',
      INGRESS_RATE_LIMIT_PER_MINUTE: '1000000000',
      MAX_SOCKETS_PER_IP: '1000000',
      // Clients that retry a revoked token on purpose share one address with everyone else.
      MAX_FAILED_HANDSHAKES_PER_IP: '1000000',
      // MAX_SESSIONS_PER_USER and MAX_SOCKETS_PER_USER keep their defaults (10, 20): each user holds two
      // sessions, so a 409 or 429 would mean the gateway leaks its counts.
      ...(redis ? { REDIS_URL: redis.url } : {}),
    };
    for (let i = 0; i < instances; i++) gateways.push(await startGateway(instances > 1 ? `gateway-${i + 1}` : 'gateway', env));
    const platformToken = await signer.sign({ sub: 'soak-platform', scope: 'vora:events:publish', audience: 'vora-gateway', ttlS: 4 * 3600 });
    platform = new Platform(gateways, platformToken);

    // A warm-up request per instance, then memory at rest.
    for (const gateway of gateways) await fetch(`${gateway.url}/health/readiness`).catch(() => undefined);
    const memoryStart: Memory[] = [];
    for (const gateway of gateways) memoryStart.push(await memoryAfterGc(gateway));
    const peakRss = gateways.map((g) => rssKiBOrZero(g.pid));
    const lagMax = gateways.map(() => 0);
    // The gateway's event loop histogram starts over at every scrape: one now, so that start-up is not counted.
    await Promise.all(gateways.map(scrape));
    const overflowsAtStart = listenOverflows();

    // Client processes.
    const progress = new Map<ChildProcess, Progress>();
    const reports = new Map<ChildProcess, WorkerStats>();
    for (let w = 0; w < options.workers; w++) {
      const worker = track(
        fork(join(__dirname, 'soak-client.ts'), [], {
          cwd: ROOT,
          execArgv: ['-r', 'ts-node/register/transpile-only'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
      workers.push(worker);
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'live':
            return platform!.onLive(worker, message);
          case 'quiesce':
            return platform!.onQuiesce(worker, message);
          case 'progress':
            return void progress.set(worker, message.progress);
          case 'report':
            return void reports.set(worker, message.stats);
        }
      });
    }
    const readiness = workers.map(
      (worker) => new Promise<void>((resolve) => worker.on('message', (m: WorkerMessage) => m.type === 'ready' && resolve())),
    );
    workers.forEach((worker, w) => {
      const message: ParentMessage = {
        cmd: 'init',
        settings: {
          clients: specs.filter((_, i) => i % options.workers === w),
          gateways: gateways.map((g) => g.url),
          devKeyDir,
          subsetEvents: SUBSET_EVENTS,
          meanHoldMs: options.meanHoldS * 1000,
          logoutProbability: options.logoutProbability,
          rampMs: 5_000,
          drainTimeoutMs: 30_000,
        },
      };
      worker.send(message);
    });
    await Promise.race([Promise.all(readiness), sleep(60_000).then(() => Promise.reject(new Error('client processes did not start within 60 s')))]);

    // The soak.
    const startedAt = Date.now();
    for (const worker of workers) worker.send({ cmd: 'start' } satisfies ParentMessage);
    platform.start();
    // RSS every second; the event loop's longest delay from the gateway's own metrics (reset at every scrape).
    let scraping = false;
    const sampler = setInterval(() => {
      gateways.forEach((g, i) => (peakRss[i] = Math.max(peakRss[i], rssKiBOrZero(g.pid))));
      if (scraping) return;
      scraping = true;
      void Promise.all(
        gateways.map(async (g, i) => (lagMax[i] = Math.max(lagMax[i], sumMetric(await scrape(g), 'vora_nodejs_eventloop_lag_max_seconds')))),
      ).finally(() => (scraping = false));
    }, 1_000);
    let nextPrint = startedAt + 10_000;
    while (Date.now() - startedAt < options.durationS * 1000) {
      await sleep(Math.min(500, startedAt + options.durationS * 1000 - Date.now()));
      if (Date.now() < nextPrint) continue;
      nextPrint += 10_000;
      const p = [...progress.values()];
      const sum = (key: keyof Progress) => p.reduce((n, x) => n + x[key], 0);
      console.log(
        `[${String(Math.round((Date.now() - startedAt) / 1000)).padStart(4)} s] published ${fmt(platform.published)}, owed ${fmt(platform.sent)}, ` +
          `received ${fmt(sum('received'))}; live sessions ${platform.liveCount}, sockets ${sum('connected')}, reconnects ${fmt(sum('reconnects'))}, ` +
          `logouts ${fmt(sum('logouts'))}, errors ${sum('errors')}; RSS ${gateways.map((g) => mib(rssKiBOrZero(g.pid))).join(' + ')}`,
      );
    }

    // Stop publishing, let every client collect what it is owed and log out.
    await platform.stop();
    const deadline = Date.now() + options.drainS * 1000;
    console.log(`publishing stopped after ${((platform.stoppedAt - platform.startedAt) / 1000).toFixed(1)} s; draining (at most ${options.drainS} s)`);
    for (const worker of workers) worker.send({ cmd: 'finish', deadline } satisfies ParentMessage);
    const reportsDeadline = deadline + 15_000;
    while (reports.size < workers.length && Date.now() < reportsDeadline) await sleep(100);
    const drainedAt = Date.now();
    clearInterval(sampler);
    const overflows = listenOverflows() - overflowsAtStart;

    // The gateway at rest again: every session logged out.
    await sleep(1_000);
    const metrics = await Promise.all(gateways.map(scrape));
    const memoryEnd: Memory[] = [];
    for (const gateway of gateways) memoryEnd.push(gateway.exitedEarly ? { rssKiB: 0, heapUsedKiB: 0 } : await memoryAfterGc(gateway));
    let redisKeys = '';
    if (redis) {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      try {
        const keys = await client.keys('*');
        const prefixes: Record<string, number> = {};
        for (const k of keys) bump(prefixes, k.split(':').slice(0, 2).join(':'));
        redisKeys = `${keys.length} (${Object.entries(prefixes)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6)
          .map(([p, n]) => `${p} ${n}`)
          .join(', ')}); redis-server RSS ${mib(rssKiBOrZero(redis.pid))}`;
      } finally {
        client.disconnect();
      }
    }

    // ------------------------------------------------------------ the table
    const missingReports = workers.length - reports.size;
    const s = mergeStats([...reports.values()]);
    const logs = gateways.map((g) => logSummary(g.logFile));
    const m = (name: string, label?: string) => metrics.reduce((n, text) => n + sumMetric(text, name, label), 0);
    const sessionsLeft = m('vora_sessions_opened_total') - m('vora_sessions_ended_total');
    const publishS = (platform.stoppedAt - platform.startedAt) / 1000;
    const failures: string[] = [];
    const rows: Array<[string, string, string]> = [];
    const row = (label: string, value: number | string, ok?: boolean, failure?: string) => {
      rows.push([label, typeof value === 'number' ? fmt(value) : value, ok === undefined ? '' : ok ? 'ok' : 'FAIL']);
      if (ok === false) failures.push(failure ?? label);
    };
    const kv = (map: Record<string, number>) =>
      Object.entries(map)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}: ${fmt(v)}`)
        .join(', ') || 'none';

    const batchMs = [...platform.batchMs].sort((a, b) => a - b);
    const rateReached = platform.published / publishS;
    row(
      'events published (202)',
      `${fmt(platform.published)} in ${fmt(platform.batches)} batches, ${fmt(rateReached)}/s of ${fmt(options.rate)}/s asked` +
        (rateReached < options.rate * 0.9 ? ' (below: one batch at a time, and each took long; see the next line)' : ''),
    );
    row(
      '  POST /events time p50 / p99 / max',
      `${batchMs[Math.floor(batchMs.length * 0.5)] ?? 0} / ${batchMs[Math.floor(batchMs.length * 0.99)] ?? 0} / ${batchMs[batchMs.length - 1] ?? 0} ms, ` +
        `mean batch ${fmt(platform.published / Math.max(1, platform.batches))} events`,
    );
    row('  filtered by the subscription (not owed)', platform.filtered);
    row('events sent (owed to live sessions)', platform.sent);
    row('events received (distinct)', s.received, s.received === platform.sent, `received ${s.received} != sent ${platform.sent}`);
    row('  owed, as told to the clients at logout', s.owed, s.owed === platform.sent);
    row('duplicates (same epoch and seq)', s.duplicates, s.duplicates === 0);
    row('duplicates (same session and id)', s.idRepeats, s.idRepeats === 0);
    row('gaps (owed, never received)', s.missing, s.missing === 0);
    row('id holes within a session', s.idHoles, s.idHoles === 0);
    row('out of order', s.outOfOrder, s.outOfOrder === 0);
    row('stale (an earlier session\u2019s event)', s.stale, s.stale === 0);
    row('excluded by the subscription, yet delivered', s.filteredDelivered, s.filteredDelivered === 0);
    row('seq beyond what was owed', s.beyondOwed, s.beyondOwed === 0);
    row('misrouted (another identity)', s.misrouted, s.misrouted === 0);
    row('publish errors', kv(platform.refused), Object.keys(platform.refused).length === 0 && platform.ambiguous === 0, 'publish errors');
    row(
      'sessions (setup + subscribe)',
      `${fmt(s.sessions)} (${fmt(s.subscriptionsSubset)} subset, ${fmt(s.subscriptionsDefault)} kept setup's subscribeAll, the rest subscribeAll)`,
    );
    row('socket connects', s.connects);
    row('reconnects after a client drop', s.reconnects);
    row('reconnects after a server close', s.serverCloseReconnects);
    row('resumes (lastEventId)', s.resumes);
    row('resumes with recovered=false', s.notRecovered, s.notRecovered === 0);
    row('resumes onto another session', s.sessionChanged, s.sessionChanged === 0);
    row('logouts', `${fmt(s.logouts)} (${fmt(s.logoutsWithSocket)} with the socket open, ${fmt(s.logoutClose4000)} closed 4000)`, s.logoutClose4000 === s.logoutsWithSocket);
    row('revoked token refused with 401', `${fmt(s.revokedRefused)} of ${fmt(s.revokedChecks)}`, s.revokedRefused === s.revokedChecks);
    row('second logout answered 404', `${fmt(s.secondLogout404)} of ${fmt(s.secondLogoutChecks)}`, s.secondLogout404 === s.secondLogoutChecks);
    // A socket that could not connect in time (SYN dropped by a full listen queue, a stalled process) is retried
    // and resumed: reported, not a failure by itself. Every other error is one.
    const transient = (key: string) => /^connect: (no welcome within|error (ECONNRESET|ECONNREFUSED|ETIMEDOUT)|error Opening handshake has timed out)/.test(key);
    const hard = Object.fromEntries(Object.entries(s.errors).filter(([key]) => !transient(key)));
    const soft = Object.fromEntries(Object.entries(s.errors).filter(([key]) => transient(key)));
    row('HTTP and protocol errors', kv(hard), Object.keys(hard).length === 0, 'errors');
    row('connect attempts that timed out or were reset (retried)', kv(soft), Object.keys(soft).length === 0 ? true : undefined);
    row('requests resent after a keep-alive reset', s.keepAliveRetries);
    row('listen queue overflows during the run (system-wide)', overflows);
    row('socket close codes (client view)', kv(s.closeCodes));
    const unexpected = Object.entries(s.unexpectedCloses).filter(([code]) => code !== '4008');
    row('unexpected server closes', kv(s.unexpectedCloses), unexpected.length === 0);
    const latencyRow = (pairs: Array<[number, number]>) =>
      `${percentile(pairs, 0.5)} / ${percentile(pairs, 0.99)} / ${pairs.length ? pairs[pairs.length - 1][0] : 0} ms, ${fmt(pairs.reduce((n, [, c]) => n + c, 0))} events`;
    row('latency p50 / p99 / max, live', latencyRow(s.latency));
    row('latency p50 / p99 / max, replayed on connect', latencyRow(s.replayLatency));
    row('clients unfinished / reports missing', `${s.unfinished} / ${missingReports}`, s.unfinished === 0 && missingReports === 0);
    row('sessions still live at the platform', platform.liveCount, platform.liveCount === 0 && platform.protocolErrors === 0);
    gateways.forEach((g, i) => {
      const tag = gateways.length > 1 ? ` (${g.name})` : '';
      row(`gateway RSS start / peak / end${tag}`, `${mib(memoryStart[i].rssKiB)} / ${mib(peakRss[i])} / ${mib(memoryEnd[i].rssKiB)}`);
      row(`gateway V8 heap used start / end${tag}`, `${mib(memoryStart[i].heapUsedKiB)} / ${mib(memoryEnd[i].heapUsedKiB)} (after a full GC)`);
      row(`gateway event loop delay, longest${tag}`, `${Math.round(lagMax[i] * 1000)} ms`);
      row(`gateway alive at the end${tag}`, g.exitedEarly ?? 'yes', !g.exitedEarly, `${g.name} ${g.exitedEarly}`);
      row(`gateway log warnings / errors${tag}`, `${logs[i].warn} / ${logs[i].error}`);
    });
    row('gateway: sockets open / sessions left at the end', `${m('vora_sockets_open')} / ${sessionsLeft}`, m('vora_sockets_open') === 0 && sessionsLeft === 0);
    row('gateway: events dropped from buffers', m('vora_events_dropped_from_buffers_total'));
    if (redis) row('redis keys left at the end', redisKeys);
    row('duration: publishing / drain', `${publishS.toFixed(1)} s / ${((drainedAt - platform.stoppedAt) / 1000).toFixed(1)} s`);

    const width = Math.max(...rows.map((r) => r[0].length));
    console.log('');
    for (const [label, value, check] of rows) console.log(`${label.padEnd(width)}  ${check.padEnd(4)}  ${value}`);
    if (s.samples.length) console.log(`\nfirst anomalies seen by the clients:\n  ${s.samples.sort().slice(0, 30).join('\n  ')}`);
    for (let i = 0; i < gateways.length; i++) {
      if (logs[i].samples.length) console.log(`\n${gateways[i].name} log, most frequent warnings and errors:\n  ${logs[i].samples.join('\n  ')}`);
    }
    console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (failures.length) {
      console.log(`\nSOAK FAILED: ${failures.join('; ')}. Gateway logs in ${LOG_DIR}`);
      return 1;
    }
    console.log('\nSOAK PASSED: every owed event arrived exactly once, in order.');
    return 0;
  } finally {
    for (const worker of workers) if (worker.connected) worker.disconnect();
    await Promise.all(gateways.map((g) => g.stop()));
    if (redis) await redis.close();
    await Promise.all(workers.map((w) => stopChild(w, 3_000)));
    publishAgent.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`soak aborted: ${error.stack ?? error.message}`);
    killAll();
    process.exit(2);
  },
);
