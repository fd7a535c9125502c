import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import Redis from 'ioredis';
import { parse as parseJson } from 'secure-json-parse';
import { StoreUnavailableError } from '../common/store-unavailable';
import { Metrics } from '../infra/metrics/metrics';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { EventCatalogue } from '../catalogue/catalogue';
import { EventRouter } from './event-router';
import { parsePublished, PublishedEvent } from './ingress';

export const INGRESS_STREAM = 'vora:ingress';
export const INGRESS_GROUP = 'vora-gateway';
/** The instance holding this lease is the one consumer reading the stream. */
export const INGRESS_LEASE = 'vora:ingress:reader';
/** Where entries that cannot be routed go, with their fields, `error` and `sourceId` (SPEC section 6). */
export const INGRESS_DEAD_LETTERS = 'vora:ingress:dead';
/** Routing attempts of an entry, alone, before it goes to the dead letters: a failure that lasts is not bad luck. */
export const MAX_ROUTING_ATTEMPTS = 5;

const LEASE_MS = 6_000;
const BLOCK_MS = 2_000;
const BATCH = 500;
const IDLE_RETRY_MS = 1_000;
/** Between two attempts at an entry that failed; every attempt together stays far below the lease. */
const ROUTING_RETRY_MS = 200;
/** The dead letters keep about this many entries (`XADD MAXLEN ~`): enough to inspect, never unbounded. */
const DEAD_LETTERS_KEPT = 10_000;

type StreamEntry = [id: string, fields: string[]];

/** An entry that parsed, with its event. */
interface RoutableEntry {
  readonly id: string;
  readonly fields: string[];
  readonly event: PublishedEvent;
}

/**
 * The ingress stream of SPEC section 6, the telephony core's alternative to
 * POST /events: only Redis has one. The port has no methods; its adapter runs
 * on its own from bootstrap to shutdown.
 */
export abstract class IngressStream {}

/** Without Redis there is no stream to read: the platform POSTs /events. */
export class NoIngressStream extends IngressStream {}

/**
 * Consumes `vora:ingress` (SPEC section 6) as one consumer group. Only the
 * holder of a short lease reads, so that entries are routed in stream order
 * (two instances reading side by side could route neighbouring events of one
 * identity out of order). A new holder first claims whatever the previous one
 * left pending, so a crashed instance's entries are routed by a live one.
 * Entries are acknowledged after routing; an instance killed between the two
 * leaves its last batch to be routed again, and the buffers skip what each
 * session already took (by entry id), so every event is buffered once.
 *
 * One bad entry never holds back the others for long: an entry that does not
 * parse goes to the dead letters at once, and when a batch fails to route its
 * entries are routed one by one, so that the one failing is retried alone (a
 * few times, everything behind it waiting, to keep the order) and then moved
 * to the dead letters too. Redis being unreachable is not the entry's fault:
 * that is retried for as long as it lasts, and counts no attempt.
 */
@Injectable()
export class IngressStreamConsumer extends IngressStream implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('IngressStream');
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private reader?: Redis;
  private running = false;
  private loop?: Promise<void>;
  private leader = false;
  /** Cleared when Redis answers NOGROUP (it restarted empty), so the group is created again. */
  private groupReady = false;
  /** Set when an entry failed to route and waits, pending, for another attempt before anything after it. */
  private retrying = false;
  /** Failed attempts of the entries being retried, by entry id. */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly catalogue: EventCatalogue,
    private readonly router: EventRouter,
    private readonly metrics: Metrics,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    // Blocking reads need a connection of their own, without the command timeout.
    this.reader = this.redis.client.duplicate({ connectionName: 'vora-gateway-ingress', commandTimeout: undefined });
    this.reader.on('error', () => undefined);
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.reader?.disconnect();
    await this.loop;
    if (this.leader) await this.redis.client.eval(RELEASE, 1, INGRESS_LEASE, this.consumer).catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.ensureGroup();
        if (!(await this.holdLease())) {
          await pause(IDLE_RETRY_MS);
          continue;
        }
        if (this.retrying) {
          this.retrying = false;
          await pause(ROUTING_RETRY_MS);
          await this.claimPending();
        } else {
          await this.readOnce();
        }
      } catch (error) {
        if (!this.running) break;
        const message = (error as Error).message;
        // A Redis that restarted empty has lost the group: create it again.
        if (message.includes('NOGROUP')) this.groupReady = false;
        else if (this.leader) this.log.warn(`reading ${INGRESS_STREAM} failed: ${message}`);
        this.leader = false;
        await pause(IDLE_RETRY_MS);
      }
    }
  }

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the start of the stream: events added before any gateway ran are not lost.
      await this.redis.client.xgroup('CREATE', INGRESS_STREAM, INGRESS_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.groupReady = true;
  }

  /** Takes or renews the lease; on taking it, claims what the previous holder left pending. */
  private async holdLease(): Promise<boolean> {
    const held = (await this.redis.client.eval(ACQUIRE, 1, INGRESS_LEASE, this.consumer, LEASE_MS)) === 1;
    // The next holder claims and counts for itself.
    if (!held) this.failures.clear();
    if (held && !this.leader) {
      this.leader = true;
      this.log.log(`this instance (${this.consumer}) now reads ${INGRESS_STREAM}`);
      await this.claimPending();
    }
    this.leader = held;
    return held;
  }

  private async claimPending(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.redis.client.xautoclaim(
        INGRESS_STREAM,
        INGRESS_GROUP,
        this.consumer,
        0,
        cursor,
        'COUNT',
        BATCH,
      )) as [string, StreamEntry[]];
      // Nothing after an entry that waits for another attempt may pass it.
      if (!(await this.handle(entries.filter((entry) => entry && entry[1])))) return;
      cursor = next;
    } while (cursor !== '0-0' && this.running);
  }

  private async readOnce(): Promise<void> {
    const reply = (await this.reader!.xreadgroup(
      'GROUP',
      INGRESS_GROUP,
      this.consumer,
      'COUNT',
      BATCH,
      'BLOCK',
      BLOCK_MS,
      'STREAMS',
      INGRESS_STREAM,
      '>',
    )) as Array<[string, StreamEntry[]]> | null;
    if (reply) await this.handle(reply[0][1]);
  }

  /**
   * Routes the entries in order and acknowledges them; an entry that does not
   * parse, or keeps failing to route, goes to the dead letters. False when an
   * entry failed and waits (pending, with those after it) for another attempt.
   */
  private async handle(entries: StreamEntry[]): Promise<boolean> {
    const routable: RoutableEntry[] = [];
    for (const [id, fields] of entries) {
      try {
        const [event] = parsePublished(fromFields(fields), this.catalogue);
        // The entry id makes routing it again (after a crash) a no-op for sessions that took it.
        routable.push({ id, fields, event: { ...event, sourceId: id } });
      } catch (error) {
        await this.deadLetter(id, fields, 'malformed', (error as Error).message);
      }
    }
    if (!routable.length) return true;
    if (!(await this.route(routable))) {
      await this.acknowledge(routable);
      return true;
    }
    // One of them fails: alone, it holds back only itself and what follows it.
    for (const entry of routable) {
      const failure = await this.route([entry]);
      if (!failure) {
        this.failures.delete(entry.id);
        await this.acknowledge([entry]);
        continue;
      }
      const attempts = (this.failures.get(entry.id) ?? 0) + 1;
      if (attempts < MAX_ROUTING_ATTEMPTS) {
        this.failures.set(entry.id, attempts);
        this.log.warn(`routing ${INGRESS_STREAM} entry ${entry.id} failed (attempt ${attempts} of ${MAX_ROUTING_ATTEMPTS}): ${failure.message}`);
        this.retrying = true;
        return false;
      }
      this.failures.delete(entry.id);
      await this.deadLetter(entry.id, entry.fields, 'routing', `routing failed ${attempts} times: ${failure.message}`);
    }
    return true;
  }

  /** Undefined once routed; the failure otherwise. Redis being unreachable is thrown: no entry is to blame. */
  private async route(entries: readonly RoutableEntry[]): Promise<Error | undefined> {
    try {
      await this.router.route(entries.map((entry) => entry.event));
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      return error as Error;
    }
    this.metrics.eventsReceived.inc({ source: 'stream' }, entries.length);
    return undefined;
  }

  private async acknowledge(entries: ReadonlyArray<{ readonly id: string }>): Promise<void> {
    await viaRedis(() => this.redis.client.xack(INGRESS_STREAM, INGRESS_GROUP, ...entries.map((entry) => entry.id)));
  }

  /**
   * Moves an entry to the dead letters: its fields as they were, then `error`
   * and `sourceId`. Should the dead letters refuse it (not a stream, say), the
   * entry is dropped with an error log rather than holding the stream.
   */
  private async deadLetter(id: string, fields: string[], reason: 'malformed' | 'routing', error: string): Promise<void> {
    try {
      await viaRedis(() =>
        this.redis.client.xadd(INGRESS_DEAD_LETTERS, 'MAXLEN', '~', DEAD_LETTERS_KEPT, '*', ...fields, 'error', error, 'sourceId', id),
      );
      this.log.warn(`moved ${INGRESS_STREAM} entry ${id} to ${INGRESS_DEAD_LETTERS}: ${error}`);
    } catch (failure) {
      if (failure instanceof StoreUnavailableError) throw failure;
      this.log.error(`dropped ${INGRESS_STREAM} entry ${id} (${error}): ${INGRESS_DEAD_LETTERS} refused it: ${(failure as Error).message}`);
    }
    await this.acknowledge([{ id }]);
    this.metrics.ingressDeadLetters.inc({ reason });
  }
}

/**
 * Stream fields `event`, `identity` or `group`, `data` (JSON), `occurredAt`,
 * as one published event. `data` is parsed as `POST /events` bodies are, with
 * `__proto__` and `constructor` keys refused (prototype poisoning).
 */
export function fromFields(fields: string[]): Record<string, unknown> {
  // No prototype: a field named __proto__ is a field like any other, refused as unknown.
  const item: Record<string, unknown> = Object.create(null);
  for (let i = 0; i + 1 < fields.length; i += 2) item[fields[i]] = fields[i + 1];
  if (typeof item.data === 'string') {
    try {
      item.data = parseJson(item.data, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      throw new Error(
        /prototype/i.test((error as Error).message) ? 'data contains a forbidden key (__proto__ or constructor)' : 'data must be JSON',
      );
    }
  }
  return item;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
