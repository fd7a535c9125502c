import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import { RedisAddress, RedisTopology } from '../../config/gateway-config';
import { Metrics } from '../metrics/metrics';

/** A connection to one Redis (or Sentinel's master), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

const CONNECT_TIMEOUT_MS = 2_000;
export const RETRY_CAP_MS = 2_000;
/** How long a sentinel or node asked for a readiness check may take. */
const PROBE_TIMEOUT_MS = 1_000;

/** Capped backoff with jitter, never null: the gateway outlives any Redis outage. */
const backoff = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), RETRY_CAP_MS) + Math.floor(Math.random() * 100);

/** What a connection is for: commands, pub/sub, or a blocking read of its own (commands with no time limit). */
type Role = 'command' | 'subscriber' | 'blocking';

/**
 * Builds the ioredis client of one role for the configured topology, with
 * the same failure behaviour on each: reconnect forever, and (for commands)
 * fail at once while Redis is away instead of queueing.
 */
export function createClient(topology: RedisTopology, role: Role, connectionName: string): RedisClient {
  const common: RedisOptions = {
    connectionName,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Closing a connection that is already down arms a timer of this length; keep shutdown short.
    disconnectTimeout: 500,
    ...(role === 'subscriber'
      ? { maxRetriesPerRequest: null }
      : {
          // 0: commands in flight when the connection drops are rejected at once. Resending them
          // after a reconnect could run a non-idempotent script (an append) twice.
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          // A command that gets no answer in this time fails: a frozen Redis must not hold requests.
          // A blocking read waits as long as it asks to.
          commandTimeout: role === 'command' ? 2_000 : undefined,
        }),
    // A demoted master answers READONLY: reconnect, to whatever is master now (the command itself fails).
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 1 : false),
  };
  // SUBSCRIBE issued while Redis is away waits for the connection; ioredis re-subscribes after each reconnect.
  const queueWhileAway = role === 'subscriber';
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, { ...common, enableOfflineQueue: queueWhileAway, retryStrategy: backoff, autoResubscribe: true });
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        name: topology.master,
        username: topology.username,
        password: topology.password,
        enableOfflineQueue: queueWhileAway,
        retryStrategy: backoff,
        sentinelRetryStrategy: backoff,
        // Listens to the sentinels' +switch-master, so a planned failover moves the connection at once.
        failoverDetector: true,
        autoResubscribe: true,
      });
    case 'cluster': {
      const options: ClusterOptions = {
        redisOptions: { ...common, username: topology.username, password: topology.password },
        enableOfflineQueue: queueWhileAway,
        clusterRetryStrategy: backoff,
        // A node lost is replaced by what CLUSTER SLOTS says once its replica is promoted; ask often.
        slotsRefreshInterval: 1_000,
        slotsRefreshTimeout: PROBE_TIMEOUT_MS,
        // A command to a node that just went away fails (503) rather than waiting: it may have run.
        retryDelayOnFailover: 0,
        // Commands issued side by side go to each node in one write, as a single Redis's pipeline would.
        enableAutoPipelining: role === 'command',
        shardedSubscribers: role === 'subscriber',
      };
      return new Cluster(
        topology.nodes.map(({ host, port }) => ({ host, port })),
        options,
      );
    }
  }
}

/** host:port of where the topology starts; a REDIS_URL may carry a password. */
export function describeTopology(topology: RedisTopology): string {
  const list = (addresses: readonly RedisAddress[]) => addresses.map(({ host, port }) => `${host}:${port}`).join(',');
  switch (topology.kind) {
    case 'single': {
      const parsed = new URL(topology.url);
      return `${parsed.hostname}:${parsed.port || 6379}`;
    }
    case 'sentinel':
      return `master "${topology.master}" of sentinels ${list(topology.sentinels)}`;
    case 'cluster':
      return `cluster ${list(topology.nodes)}`;
  }
}

/**
 * Counts what a Cluster client lives through: redirections it followed and
 * masters replaced. ioredis follows MOVED and ASK inside `handleError`
 * without an event, so the count is taken there.
 */
export function watchCluster(cluster: Cluster, metrics: Metrics, onFailover: () => void): void {
  const internals = cluster as unknown as { handleError(error: Error, ...rest: unknown[]): unknown };
  const handleError = internals.handleError.bind(cluster);
  internals.handleError = (error: Error, ...rest: unknown[]) => {
    const kind = error.message.startsWith('MOVED ') ? 'moved' : error.message.startsWith('ASK ') ? 'ask' : undefined;
    if (kind) metrics.storeRedirects.inc({ kind });
    return handleError(error, ...rest);
  };
  let masters = new Set<string>();
  cluster.on('refresh', () => {
    const now = new Set(cluster.slots.map((nodes) => nodes?.[0]).filter((node): node is string => Boolean(node)));
    // A master that serves no slot any more while every slot has one: its slots went to a promoted replica.
    const replaced = [...masters].filter((master) => !now.has(master) && now.size > 0);
    masters = now;
    if (!replaced.length) return;
    metrics.storeFailovers.inc(replaced.length);
    onFailover();
  });
}

/**
 * Counts Sentinel failovers: the connection coming back to a master at
 * another address than before.
 */
export function watchSentinelMaster(redis: Redis, metrics: Metrics, onFailover: () => void): void {
  let master: string | undefined;
  redis.on('ready', () => {
    const stream = (redis as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
    const now = stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : undefined;
    const moved = master !== undefined && now !== undefined && now !== master;
    if (now) master = now;
    if (!moved) return;
    metrics.storeFailovers.inc();
    onFailover();
  });
}

/**
 * What keeps the topology from serving every key, or undefined: cluster
 * state not ok, slots without a master, a master that does not answer; no
 * sentinel answering. Each is named, for readiness.
 */
export async function topologyProblem(topology: RedisTopology, client: RedisClient, probes: SentinelProbes | undefined): Promise<string | undefined> {
  if (topology.kind === 'cluster') return clusterProblem(client as Cluster);
  if (topology.kind === 'sentinel' && probes) return probes.problem();
  return undefined;
}

/** Asked of the first node that answers: a node that is down says nothing about the others. */
async function clusterProblem(cluster: Cluster): Promise<string | undefined> {
  const ask = async <T>(command: (node: Redis) => Promise<T>): Promise<T> => {
    let lastError: unknown = new Error('no node connected');
    for (const node of cluster.nodes('all')) {
      try {
        return await within(command(node), PROBE_TIMEOUT_MS);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };
  const info = String(await ask((node) => node.cluster('INFO')));
  const state = /cluster_state:(\w+)/.exec(info)?.[1];
  if (state !== 'ok') return `cluster state is ${state ?? 'unknown'}`;
  const slots = (await ask((node) => node.cluster('SLOTS'))) as unknown as Array<[number, number, [string, number, ...unknown[]]?]>;
  const uncovered = uncoveredRanges(slots.map(([from, to, master]) => [from, to, Boolean(master)] as const));
  if (uncovered.length) return `slots ${uncovered.join(', ')} have no master`;
  const masters = slots.map(([, , master]) => `${master![0]}:${master![1]}`);
  const silent = await firstSilent([...new Set(masters)], (address) => {
    const node = cluster.nodes('master').find((redis) => `${redis.options.host}:${redis.options.port}` === address);
    return node ? node.ping() : Promise.reject(new Error('no connection'));
  });
  return silent ? `master ${silent} does not answer` : undefined;
}

/** The slot ranges ("0-5460") that no entry of CLUSTER SLOTS serves with a master. */
export function uncoveredRanges(ranges: ReadonlyArray<readonly [number, number, boolean]>): string[] {
  const served = new Uint8Array(16384);
  for (const [from, to, hasMaster] of ranges) if (hasMaster) served.fill(1, from, to + 1);
  const gaps: string[] = [];
  for (let slot = 0; slot < 16384; slot++) {
    if (served[slot]) continue;
    const from = slot;
    while (slot + 1 < 16384 && !served[slot + 1]) slot++;
    gaps.push(from === slot ? `${from}` : `${from}-${slot}`);
  }
  return gaps;
}

async function firstSilent(addresses: string[], ping: (address: string) => Promise<unknown>): Promise<string | undefined> {
  const answers = await Promise.all(addresses.map((address) => within(ping(address), PROBE_TIMEOUT_MS).then(() => undefined, () => address)));
  return answers.find(Boolean);
}

/** One connection to each sentinel, for readiness: no sentinel answering means no failover could be found. */
export class SentinelProbes {
  private readonly connections: Redis[];

  constructor(private readonly sentinels: readonly RedisAddress[]) {
    this.connections = sentinels.map(
      ({ host, port }) =>
        new Redis({
          host,
          port,
          connectionName: 'vora-gateway-probe',
          connectTimeout: PROBE_TIMEOUT_MS,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          retryStrategy: backoff,
        }),
    );
    for (const connection of this.connections) connection.on('error', () => undefined);
  }

  async problem(): Promise<string | undefined> {
    const answers = await Promise.all(this.connections.map((connection) => within(connection.ping(), PROBE_TIMEOUT_MS).then(() => true, () => false)));
    if (answers.some(Boolean)) return undefined;
    return `no Sentinel answers (${this.sentinels.map(({ host, port }) => `${host}:${port}`).join(', ')})`;
  }

  close(): void {
    for (const connection of this.connections) connection.disconnect();
  }
}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
