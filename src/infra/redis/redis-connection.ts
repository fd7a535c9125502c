import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { ChainableCommander, RedisOptions } from 'ioredis';
import { ExpiringMap } from './expiring-map';
import { StoreUnavailableError } from '../../common/store-unavailable';
import { Metrics } from '../metrics/metrics';
import { StoredRecord } from './stored-value';

const CONNECT_TIMEOUT_MS = 2_000;
const RETRY_CAP_MS = 2_000;
/** A command that gets no answer in this time fails: a frozen Redis must not hold requests. */
const COMMAND_TIMEOUT_MS = 2_000;

/** A bad value is logged once per key in this time, however often it is read; the metric counts every read. */
const BAD_VALUE_LOG_EVERY_MS = 60_000;

/** Redis answers that mean "not now" rather than "wrong command". */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS|OOM)\b/;

type Handler = (message: string) => void;

/** A Lua script run as a command: how many of its arguments are keys, and whether it only reads. */
export interface LuaScript {
  readonly keys: number;
  readonly lua: string;
  readonly readOnly?: boolean;
}

/**
 * The two Redis connections of one gateway instance: one for commands and
 * one in subscriber mode for pub/sub (a subscribed connection can run no
 * other command). Neither ever gives up reconnecting; while Redis is away,
 * commands fail at once with StoreUnavailableError instead of queueing, so
 * requests answer 503 rather than hang.
 */
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  readonly client: Redis;
  readonly subscriber: Redis;
  private readonly logger = new Logger('Redis');
  private readonly resubscribed: Array<() => void> = [];
  private readonly channels = new Map<string, { handlers: Set<Handler>; subscribed: Promise<void> }>();
  private closing = false;
  private turn?: { readonly pipeline: ChainableCommander; readonly replies: Promise<[Error | null, unknown][]> };
  private readonly badValuesLogged = new ExpiringMap<string, true>(BAD_VALUE_LOG_EVERY_MS);

  constructor(
    url: string,
    private readonly metrics: Metrics,
  ) {
    const where = addressOf(url);
    const common: RedisOptions = {
      lazyConnect: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Closing a connection that is already down arms a timer of this length; keep shutdown short.
      disconnectTimeout: 500,
      // Capped backoff with jitter, never null: the gateway outlives any Redis outage.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), RETRY_CAP_MS) + Math.floor(Math.random() * 100),
    };
    this.client = new Redis(url, {
      ...common,
      connectionName: 'vora-gateway',
      enableOfflineQueue: false,
      // 0: commands in flight when the connection drops are rejected at once. Resending them
      // after a reconnect could run a non-idempotent script (an append) twice.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    this.subscriber = new Redis(url, {
      ...common,
      connectionName: 'vora-gateway-sub',
      // SUBSCRIBE issued while Redis is away waits for the connection; ioredis then
      // re-subscribes every channel after each reconnect.
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
    });
    this.watch(this.client, 'command', where);
    this.watch(this.subscriber, 'subscriber', where);
    this.subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
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

  /** Called when the subscriber connection is back after being down: messages published meanwhile were missed. */
  onResubscribed(listener: () => void): void {
    this.resubscribed.push(listener);
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
   * by side (a heartbeat's, for every socket) share one round trip instead of
   * costing one each. Resolves with this caller's replies, throwing the first
   * failure the way `execPipeline` does.
   */
  async inTurn(add: (pipeline: ChainableCommander) => unknown): Promise<unknown[]> {
    const turn = (this.turn ??= this.nextTurn());
    const from = turn.pipeline.length;
    add(turn.pipeline);
    const to = turn.pipeline.length;
    return viaRedis(async () => repliesOf((await turn.replies).slice(from, to)));
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
    this.badValuesLogged.close();
    await Promise.all([this.client, this.subscriber].map(quit));
  }

  private nextTurn(): { pipeline: ChainableCommander; replies: Promise<[Error | null, unknown][]> } {
    const pipeline = this.client.pipeline();
    const replies = new Promise<void>((resolve) => process.nextTick(resolve)).then(async () => {
      this.turn = undefined;
      const results = await pipeline.exec();
      if (!results) throw new StoreUnavailableError();
      return results;
    });
    return { pipeline, replies };
  }

  private startSubscription(channel: string): Promise<void> {
    const confirmed = this.subscriber.subscribe(channel).then(
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

  private dispatch(channel: string, message: string): void {
    for (const handler of this.channels.get(channel)?.handlers ?? []) {
      try {
        handler(message);
      } catch (error) {
        this.logger.error(`a handler of ${channel} failed`, (error as Error).stack);
      }
    }
  }

  /** Logs each change of connection state once, not every retry. */
  private watch(redis: Redis, role: string, where: string): void {
    let state: 'starting' | 'up' | 'down' = 'starting';
    let lastError: string | undefined;
    redis.on('error', (error: NodeJS.ErrnoException) => {
      this.metrics.storeErrors.inc({ connection: role });
      lastError = error.code ?? error.message;
    });
    redis.on('ready', () => {
      if (state !== 'up') this.logger.log(`${role} connection to ${where} is up`);
      // Whatever was published while the subscriber was away is lost to this instance.
      if (state === 'down' && redis === this.subscriber) for (const listener of this.resubscribed) listener();
      state = 'up';
      lastError = undefined;
    });
    redis.on('close', () => {
      if (state === 'down' || this.closing) return;
      const cause = lastError ? ` (${lastError})` : '';
      this.logger.warn(`${role} connection to ${where} is down${cause}; reconnecting every ${RETRY_CAP_MS / 1000} s at most`);
      state = 'down';
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
 * The replies of a pipeline, each its value or its error reply, for callers
 * that take some error replies in stride (a key of the wrong type); a lost
 * connection throws as in `execPipeline`.
 */
export async function execPipelineReplies(pipeline: {
  exec(): Promise<[Error | null, unknown][] | null>;
}): Promise<ReadonlyArray<[Error | null, unknown]>> {
  return viaRedis(async () => {
    const results = await pipeline.exec();
    if (!results) throw new StoreUnavailableError();
    const unavailable = results.find(([error]) => error && isUnavailable(error));
    if (unavailable) throw unavailable[0];
    return results;
  });
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

/** host:port only: a REDIS_URL may carry a password. */
function addressOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 6379}`;
}

function whenReady(redis: Redis, timeoutMs: number): Promise<boolean> {
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

async function quit(redis: Redis): Promise<void> {
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
