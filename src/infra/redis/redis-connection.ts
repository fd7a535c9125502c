import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { ChainableCommander, Cluster } from 'ioredis';
import { RedisTopology } from '../../config/gateway-config';
import { ExpiringMap } from './expiring-map';
import { StoreUnavailableError } from '../../common/store-unavailable';
import { Metrics } from '../metrics/metrics';
import { NodeBatch, Reply } from './node-batch';
import {
  createClient,
  describeTopology,
  RedisClient,
  RETRY_CAP_MS,
  SentinelProbes,
  topologyProblem,
  watchCluster,
  watchSentinelMaster,
} from './redis-topology';
import { StoredRecord } from './stored-value';

export type { RedisClient } from './redis-topology';

const CONNECT_TIMEOUT_MS = 2_000;

/** A disruption is acted on once no other has followed for this long. */
const DISRUPTION_SETTLE_MS = 500;

/** A bad value is logged once per key in this time, however often it is read; the metric counts every read. */
const BAD_VALUE_LOG_EVERY_MS = 60_000;

/** Redis answers that mean "not now" rather than "wrong command". */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS|OOM|MOVED|ASK)\b/;

type Handler = (message: string) => void;

/** A Lua script run as a command: how many of its arguments are keys, and whether it only reads. */
export interface LuaScript {
  readonly keys: number;
  readonly lua: string;
  readonly readOnly?: boolean;
}

/**
 * The two Redis connections of one gateway instance, on one Redis, a
 * Sentinel-managed master or a Redis Cluster: one for commands and one in
 * subscriber mode for pub/sub (a subscribed connection can run no other
 * command). On a Cluster, pub/sub is sharded (SPUBLISH, SSUBSCRIBE): a
 * channel lives in a slot like a key, and the subscriber holds a connection
 * to each master. Neither ever gives up reconnecting; while Redis is away,
 * commands fail at once with StoreUnavailableError instead of queueing, so
 * requests answer 503 rather than hang.
 */
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  readonly client: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly sharded: boolean;
  private readonly sentinelProbes?: SentinelProbes;
  private readonly logger = new Logger('Redis');
  private readonly disruptionListeners: Array<() => void> = [];
  private readonly disruptions = new Set<string>();
  private disruptionTimer?: NodeJS.Timeout;
  private readonly channels = new Map<string, { handlers: Set<Handler>; subscribed: Promise<void> }>();
  private closing = false;
  private turn?: { readonly batch: NodeBatch; readonly replies: Promise<Reply[][]> };
  private readonly badValuesLogged = new ExpiringMap<string, true>(BAD_VALUE_LOG_EVERY_MS);

  constructor(
    private readonly topology: RedisTopology,
    private readonly metrics: Metrics,
  ) {
    this.sharded = topology.kind === 'cluster';
    this.client = createClient(topology, 'command', 'vora-gateway');
    this.subscriber = createClient(topology, 'subscriber', 'vora-gateway-sub');
    const where = describeTopology(topology);
    this.watch(this.client, 'command', where);
    this.watch(this.subscriber, 'subscriber', where);
    const failedOver = () => this.disrupted('a failover promoted a replica');
    if (this.client instanceof Cluster) watchCluster(this.client, metrics, failedOver);
    else if (topology.kind === 'sentinel') watchSentinelMaster(this.client, metrics, failedOver);
    if (topology.kind === 'sentinel') this.sentinelProbes = new SentinelProbes(topology.sentinels);
    this.subscriber.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => this.dispatch(channel, message));
  }

  /**
   * Gives Redis one connect timeout to answer before the app starts listening,
   * so the first requests do not race the connection; never waits longer, so
   * the gateway starts (not ready) while Redis is down.
   */
  async onModuleInit(): Promise<void> {
    if (!(await this.ready(CONNECT_TIMEOUT_MS))) {
      this.logger.warn('starting without Redis; readiness stays 503 until it answers');
    }
  }

  /** Closed last, after every other module's shutdown work that may still write. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** True once both connections are ready, false when `timeoutMs` passes first. */
  async ready(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all([this.client, this.subscriber].map((redis) => whenReady(redis, timeoutMs)));
    return results.every(Boolean);
  }

  /**
   * Why Redis cannot serve every key now, for readiness; undefined when it
   * can. A PING through the command connection, then what the topology
   * adds: on a Cluster its state, slots without a master and masters that
   * do not answer; with Sentinel, whether any sentinel answers.
   */
  async problem(): Promise<string | undefined> {
    try {
      await viaRedis(() => this.client.ping());
      return await topologyProblem(this.topology, this.client, this.sentinelProbes);
    } catch (error) {
      return `store unreachable: ${(error as Error).message}`;
    }
  }

  /**
   * Called when what other instances published may have been missed, or
   * what Redis held may have been lost: the subscriber is back after losing
   * a connection, or a failover promoted a replica (which may lack the
   * master's last writes, replication being asynchronous).
   */
  onDisruption(listener: () => void): void {
    this.disruptionListeners.push(listener);
  }

  /** PUBLISH, or on a Cluster SPUBLISH: the message goes only to the shard of the channel's slot. */
  async publish(channel: string, message: string): Promise<void> {
    await viaRedis(() => (this.sharded ? this.client.spublish(channel, message) : this.client.publish(channel, message)));
  }

  /**
   * Runs `handler` for every message on `channel`. Resolves once Redis has
   * confirmed the subscription, or at once while Redis is unreachable (the
   * subscription is then made on reconnect; nothing can be published before).
   */
  async subscribe(channel: string, handler: Handler): Promise<void> {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { handlers: new Set(), subscribed: this.startSubscription(channel) };
      this.channels.set(channel, entry);
    }
    entry.handlers.add(handler);
    await entry.subscribed;
  }

  /**
   * Queues the commands `add` puts on the pipeline of this turn of the event
   * loop, which goes to Redis once the turn's code has run: calls made side
   * by side (a heartbeat's, for every socket) share one round trip per node
   * instead of costing one each. Everything `add` queues must live in the
   * slot of `key` (see NodeBatch). Resolves with this caller's replies,
   * throwing the first failure the way `execPipeline` does.
   */
  async inTurn(key: string, add: (pipeline: ChainableCommander) => unknown): Promise<unknown[]> {
    const turn = (this.turn ??= this.nextTurn());
    const index = turn.batch.add(key, add);
    return viaRedis(async () => repliesOf((await turn.replies)[index]));
  }

  /** Commands for keys in many slots, sent as one pipeline per node (see NodeBatch). */
  batch(): NodeBatch {
    return new NodeBatch(this.client);
  }

  /** A connection of its own, for a read that blocks (XREADGROUP BLOCK); the caller closes it. */
  blockingClient(connectionName: string): RedisClient {
    const client = createClient(this.topology, 'blocking', connectionName);
    client.on('error', () => undefined);
    return client;
  }

  /**
   * Defines each Lua script as a command of that name on the command
   * connection and its pipelines (ioredis runs it by EVALSHA, and by EVAL when
   * Redis has lost its script cache). Each adapter declares the commands'
   * types on ioredis's RedisCommander next to its scripts.
   */
  loadScripts(scripts: Readonly<Record<string, LuaScript>>): void {
    for (const [name, { keys, lua, readOnly }] of Object.entries(scripts)) {
      this.client.defineCommand(name, readOnly ? { numberOfKeys: keys, lua, readOnly } : { numberOfKeys: keys, lua });
    }
  }

  /**
   * A value read from Redis that is not what the gateway writes there (see
   * stored-value.ts): counted, and logged at most once a minute per key. The
   * caller treats it as missing, or repairs it. `key` must not hold a secret.
   */
  badValue(record: StoredRecord, key: string, problem: string): void {
    this.metrics.storeBadValues.inc({ kind: record });
    if (this.badValuesLogged.get(key)) return;
    this.badValuesLogged.set(key, true, BAD_VALUE_LOG_EVERY_MS);
    this.logger.warn(`ignored a malformed ${record} in ${key}: ${problem}`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.disruptionTimer);
    this.badValuesLogged.close();
    this.sentinelProbes?.close();
    await Promise.all([this.client, this.subscriber].map(quit));
  }

  private nextTurn(): { batch: NodeBatch; replies: Promise<Reply[][]> } {
    const batch = this.batch();
    const replies = new Promise<void>((resolve) => process.nextTick(resolve)).then(() => {
      this.turn = undefined;
      return batch.exec();
    });
    return { batch, replies };
  }

  private startSubscription(channel: string): Promise<void> {
    const confirmed = this.subscribeOn(channel).then(
      () => undefined,
      (error: unknown) => {
        if (!this.closing) this.logger.error(`cannot subscribe to ${channel}: ${(error as Error).message}`);
      },
    );
    if (this.subscriber.status !== 'ready') return Promise.resolve();
    // A connection lost before the confirmation must not hold the caller until Redis returns.
    return new Promise<void>((resolve) => {
      this.subscriber.once('close', resolve);
      void confirmed.then(() => {
        this.subscriber.off('close', resolve);
        resolve();
      });
    });
  }

  private subscribeOn(channel: string): Promise<unknown> {
    return this.sharded ? this.subscriber.ssubscribe(channel) : this.subscriber.subscribe(channel);
  }

  /**
   * After the subscriber lost its connection, ioredis subscribes again on
   * its own but does not say when that is done. Subscribing once more (a
   * no-op for Redis, answered after the first) gives that moment: only then
   * are the listeners told, so that what they read back from Redis covers
   * every message they missed. (A Cluster's shard subscribers are made
   * again by ioredis, whose `subscribersReady` is followed instead: a second
   * SSUBSCRIBE through the Cluster would race its bookkeeping of them.)
   */
  private async afterResubscribe(): Promise<void> {
    if (this.closing) return;
    if (this.channels.size) {
      try {
        await this.subscriber.subscribe(...this.channels.keys());
      } catch (error) {
        this.logger.warn(`re-subscribing failed (${(error as Error).message}); caches resync anyway`);
      }
    }
    this.disrupted('the subscriber re-subscribed');
  }

  /**
   * Tells the listeners once things have settled: a failover on a Cluster
   * remakes its shard subscribers again and again until the replica is
   * promoted, and each resync costs every socket a buffer read.
   */
  private disrupted(why: string, settled?: () => void): void {
    if (this.closing) return;
    this.disruptions.add(why);
    clearTimeout(this.disruptionTimer);
    this.disruptionTimer = setTimeout(() => {
      this.logger.warn(`${[...this.disruptions].join(', ')}: caches resync, sockets read back what they may have missed`);
      this.disruptions.clear();
      settled?.();
      for (const listener of this.disruptionListeners) listener();
    }, DISRUPTION_SETTLE_MS);
    this.disruptionTimer.unref();
  }

  private dispatch(channel: string, message: string): void {
    for (const handler of this.channels.get(channel)?.handlers ?? []) {
      try {
        handler(message);
      } catch (error) {
        this.logger.error(`a handler of ${channel} failed`, (error as Error).stack);
      }
    }
  }

  /** Logs each change of connection state once, not every retry; counts reconnects. */
  private watch(redis: RedisClient, role: 'command' | 'subscriber', where: string): void {
    let state: 'starting' | 'up' | 'down' = 'starting';
    let lastError: string | undefined;
    redis.on('error', (error: NodeJS.ErrnoException) => {
      this.metrics.storeErrors.inc({ connection: role });
      lastError = error.code ?? error.message;
    });
    redis.on('ready', () => {
      if (state !== 'up') this.logger.log(`${role} connection to ${where} is up`);
      if (state === 'down') {
        this.metrics.storeReconnects.inc({ connection: role });
        // Whatever was published while the subscriber was away is lost to this instance.
        if (redis === this.subscriber && !(redis instanceof Cluster)) void this.afterResubscribe();
      }
      state = 'up';
      lastError = undefined;
    });
    redis.on('close', () => {
      if (state === 'down' || this.closing) return;
      const cause = lastError ? ` (${lastError})` : '';
      this.logger.warn(`${role} connection to ${where} is down${cause}; reconnecting every ${RETRY_CAP_MS / 1000} s at most`);
      state = 'down';
    });
    if (!(redis instanceof Cluster)) return;
    // A Cluster stays ready while one node goes: count the node connections made after start-up.
    redis.on('+node', () => {
      if (state === 'up') this.metrics.storeReconnects.inc({ connection: role });
    });
    redis.on('node error', (error: Error, node: string) => {
      this.metrics.storeErrors.inc({ connection: role });
      lastError = `${node}: ${error.message}`;
    });
    if (redis !== this.subscriber) return;
    // A shard's subscriber lost (its master died, or its slots moved): ioredis makes a new one and re-subscribes,
    // retrying while the master is away; logged once per outage.
    let lost = false;
    let logged = false;
    redis.on('-subscriber', () => {
      if (state !== 'up' || this.closing) return;
      if (!logged) this.logger.warn(`a shard subscriber of ${where} was lost${lastError ? ` (${lastError})` : ''}; re-subscribing`);
      lost = logged = true;
    });
    redis.on('subscribersReady', () => {
      if (!lost) return;
      lost = false;
      this.metrics.storeReconnects.inc({ connection: role });
      this.disrupted('the shard subscribers were made again', () => (logged = false));
    });
  }
}

/**
 * Runs one Redis operation, turning failures that mean "Redis cannot answer
 * now" into StoreUnavailableError; other failures (a bad script, a wrong
 * type) stay what they are, a bug.
 */
export async function viaRedis<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw isUnavailable(error) ? new StoreUnavailableError(undefined, { cause: error }) : error;
  }
}

/** The results of a pipeline, throwing the first failure the way `viaRedis` does. */
export async function execPipeline(pipeline: { exec(): Promise<[Error | null, unknown][] | null> }): Promise<unknown[]> {
  return viaRedis(async () => {
    const results = await pipeline.exec();
    if (!results) throw new StoreUnavailableError();
    return repliesOf(results);
  });
}

/**
 * The replies of each `add` of a batch, each reply its value or its error
 * reply, for callers that take some error replies in stride (a key of the
 * wrong type); a lost connection, or a reply that means "not now", throws
 * as in `viaRedis`.
 */
export async function execBatch(batch: NodeBatch): Promise<Reply[][]> {
  return viaRedis(async () => {
    const replies = await batch.exec();
    const unavailable = replies.flat().find(([error]) => error && isUnavailable(error));
    if (unavailable) throw unavailable[0];
    return replies;
  });
}

/** The values of each `add` of a batch, throwing the first failure the way `execPipeline` does. */
export async function execBatchValues(batch: NodeBatch): Promise<unknown[][]> {
  return viaRedis(async () => (await batch.exec()).map(repliesOf));
}

function repliesOf(results: ReadonlyArray<[Error | null, unknown]>): unknown[] {
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** JavaScript's own errors: a bug in the code around a command (a key that cannot be built, say), never the connection. */
const PROGRAMMING_ERRORS = [TypeError, RangeError, URIError, SyntaxError, ReferenceError, EvalError];

function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  if (PROGRAMMING_ERRORS.some((type) => error instanceof type)) return false;
  // Every other failure that is not a server reply is the connection's: closed, refused, timed out, aborted.
  if (error.name !== 'ReplyError') return true;
  return UNAVAILABLE_REPLY.test(error.message);
}

/** A lone UTF-16 surrogate: text that is not well-formed Unicode, which encodeURIComponent refuses to encode. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE.source);

/** Whether `text` is well-formed Unicode (holds no lone surrogate). */
export const isWellFormed = (text: string): boolean => !HAS_LONE_SURROGATE.test(text);

/**
 * `text` as a part of a key that holds no brace (so it cannot end a hash tag
 * early): URI-encoded, with each lone surrogate written `%uXXXX`, which
 * encodeURIComponent never writes. Never throws, and distinct texts keep
 * distinct keys.
 */
export function keyPart(text: string): string {
  let encoded = '';
  let from = 0;
  for (const lone of text.matchAll(LONE_SURROGATE)) {
    const at = lone.index!;
    encoded += `${encodeURIComponent(text.slice(from, at))}%u${text.charCodeAt(at).toString(16).toUpperCase()}`;
    from = at + 1;
  }
  return encoded + encodeURIComponent(text.slice(from));
}

function whenReady(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.once('ready', onReady);
  });
}

async function quit(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // Fall through: a connection that cannot say goodbye is simply dropped.
    }
  }
  redis.disconnect();
}

/**
 * A key under the hash tag of everything that belongs to one user: its
 * sessions and its subscriptions share a Redis Cluster slot, so a script can
 * read or enforce both at once (the per-user session limit). The sub is
 * URI-encoded (keyPart) so that braces in it cannot end the tag early.
 */
export const userKey = (sub: string, suffix: string): string => `vora:{u:${keyPart(sub)}}:${suffix}`;
