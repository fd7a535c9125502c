import { join } from 'node:path';

/**
 * Sizes and durations of every benchmark, overridable from the environment.
 * BENCH_QUICK=1 shrinks everything to a smoke run of a few seconds per
 * benchmark and writes its results under .data/bench-quick, so that a smoke
 * run never overwrites the published figures in bench/results.
 */
export const QUICK = process.env.BENCH_QUICK === '1';

const num = (name: string, full: number, quick: number): number => {
  const raw = process.env[name];
  if (raw !== undefined && raw !== '') {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
    return value;
  }
  return QUICK ? quick : full;
};

const list = (name: string, full: number[], quick: number[]): number[] => {
  const raw = process.env[name];
  if (raw) return raw.split(',').map((s) => Number(s.trim()));
  return QUICK ? quick : full;
};

export const ROOT = join(__dirname, '..', '..');
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? (QUICK ? join(ROOT, '.data', 'bench-quick') : join(ROOT, 'bench', 'results'));

export const options = {
  rest: {
    connections: num('BENCH_REST_CONNECTIONS', 50, 50),
    durationS: num('BENCH_REST_DURATION_S', 10, 2),
    warmupS: num('BENCH_REST_WARMUP_S', 3, 1),
    users: num('BENCH_REST_USERS', 1000, 200),
    /** Rounds of every endpoint on both servers, alternating; the figures are their medians. */
    rounds: num('BENCH_REST_ROUNDS', 3, 1),
  },
  delivery: {
    sizes: list('BENCH_SIZES', [1000, 5000, 10_000], [200]),
    durationS: num('BENCH_DELIVERY_DURATION_S', 10, 2),
    pacedRate: num('BENCH_PACED_RATE', 25_000, 5_000),
    batchSize: num('BENCH_BATCH_SIZE', 500, 500),
    pacedBatchSize: num('BENCH_PACED_BATCH_SIZE', 250, 100),
    /** Batches in flight at full speed: enough to keep the server busy while one is on the wire. */
    inFlight: num('BENCH_IN_FLIGHT', 2, 2),
    clientProcesses: num('BENCH_CLIENT_PROCESSES', 2, 2),
  },
  redis: {
    sizes: list('BENCH_REDIS_SIZES', [1000, 5000, 10_000], [200]),
  },
  cluster: {
    sizes: list('BENCH_CLUSTER_SIZES', [5000], [200]),
  },
  scaleOut: {
    /** Idle sockets held open, and for how long, to count what they cost Redis. */
    idleSockets: num('BENCH_IDLE_SOCKETS', 10_000, 500),
    idleS: num('BENCH_IDLE_S', 120, 15),
    /** The moderate load run on 2 and then 4 instances: well inside what 2 cores carry. */
    sockets: num('BENCH_CAPACITY_SOCKETS', 2000, 200),
    rate: num('BENCH_CAPACITY_RATE', 4000, 1000),
    durationS: num('BENCH_CAPACITY_DURATION_S', 10, 3),
  },
  memory: {
    sessions: num('BENCH_MEMORY_SESSIONS', 10_000, 500),
  },
  reconnect: {
    sessions: num('BENCH_RECONNECT_SESSIONS', 10_000, 500),
    /** Handshakes each client process keeps in flight: a storm, without measuring the kernel's SYN backoff. */
    concurrency: num('BENCH_RECONNECT_CONCURRENCY', 500, 200),
    rounds: num('BENCH_RECONNECT_ROUNDS', 3, 1),
  },
  /**
   * Users in the generated directory; each owns identitiesPerUser numbers (a
   * mobile and a fixed one, like the sample directory). 10,000 sessions are
   * then 5,000 users with both identities open.
   */
  directory: {
    users: num('BENCH_USERS', 5000, 300),
    identitiesPerUser: num('BENCH_IDENTITIES_PER_USER', 2, 2),
  },
};
