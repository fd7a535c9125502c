import { crc32 } from 'node:zlib';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { parse as parseJson } from 'secure-json-parse';
import { StoreUnavailableError } from '../common/store-unavailable';
import { Instances } from '../cluster/instances';
import { GatewayConfig } from '../config/gateway-config';
import { Metrics } from '../infra/metrics/metrics';
import { RedisClient, RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { EventCatalogue } from '../catalogue/catalogue';
import { EventRouter } from './event-router';
import { parsePublished, PublishedEvent } from './ingress';

export const INGRESS_STREAM = 'vora:ingress';
export const INGRESS_GROUP = 'vora-gateway';
/** The instance holding this lease is the one consumer reading the stream. */
export const INGRESS_LEASE = 'vora:ingress:reader';

/**
 * The stream and lease of partition p of P. With one partition, `vora:ingress`
 * as it always was; with more, hash-tagged so that a partition's stream and
 * lease share a Redis Cluster slot and the partitions spread over the shards.
 */
export function partitionKeys(p: number, partitions: number): { readonly stream: string; readonly lease: string } {
  if (partitions === 1) return { stream: INGRESS_STREAM, lease: INGRESS_LEASE };
  return { stream: `${INGRESS_STREAM}:{${p}}`, lease: `${INGRESS_STREAM}:{${p}}:reader` };
}

/** The partition the core writes an event to: CRC32 (IEEE) of the identity, or of `group:<name>`, mod P. */
export function partitionOf(target: { readonly identity: string } | { readonly group: string }, partitions: number): number {
  const key = 'group' in target ? `group:${target.group}` : target.identity;
  return crc32(Buffer.from(key, 'utf8')) % partitions;
}
/** Where entries that cannot be routed go, with their fields, `error` and `sourceId` (SPEC section 6). */
export const INGRESS_DEAD_LETTERS = 'vora:ingress:dead';
/** Routing attempts of an entry, alone, before it goes to the dead letters: a failure that lasts is not bad luck. */
export const MAX_ROUTING_ATTEMPTS = 5;

const LEASE_MS = 6_000;
const BLOCK_MS = 2_000;
const BATCH = 500;
const IDLE_RETRY_MS = 1_000;
/** An instance above its share gives up at most one partition this often, so that leases settle rather than swing. */
const GIVE_UP_EVERY_MS = 1_000;
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
 * Consumes the ingress stream (SPEC section 6), or its partitions (section
 * 10), as one consumer group. Each partition is read by the holder of its
 * own short lease, so that its entries are routed in stream order (two
 * instances reading one stream side by side could route neighbouring events
 * of one identity out of order); an identity's events all go to one
 * partition, so their order holds. Leases spread over the live instances: no
 * instance takes more than its share, ⌈P/N⌉, and one above it gives one up
 * now and then, so that a new instance gets partitions and a dead one's are
 * taken over once its lease expires.
 */
@Injectable()
export class IngressStreamConsumer extends IngressStream implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly partitions: IngressPartition[];
  private running = false;
  private loops: Promise<void>[] = [];
  private lastGiveUp = 0;

  constructor(
    redis: RedisConnection,
    catalogue: EventCatalogue,
    router: EventRouter,
    private readonly metrics: Metrics,
    private readonly instances: Instances,
    config: GatewayConfig,
  ) {
    super();
    const count = config.store.kind === 'redis' ? config.store.ingressPartitions : 1;
    this.partitions = Array.from(
      { length: count },
      (_, p) => new IngressPartition(partitionKeys(p, count), instances.self, redis, catalogue, router, metrics),
    );
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loops = this.partitions.map((partition) => this.run(partition));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    for (const partition of this.partitions) partition.stop();
    await Promise.all(this.loops);
    await Promise.all(this.partitions.map((partition) => partition.release()));
  }

  private share(): number {
    return Math.ceil(this.partitions.length / Math.max(1, this.instances.count()));
  }

  private heldCount(): number {
    let held = 0;
    for (const partition of this.partitions) if (partition.held) held++;
    return held;
  }

  private async run(partition: IngressPartition): Promise<void> {
    while (this.running) {
      const worked = await partition.step({
        mayTake: () => this.heldCount() < this.share(),
        shouldGiveUp: () => this.shouldGiveUp(),
      });
      this.metrics.ingressPartitionsHeld.set(this.heldCount());
      if (!worked && this.running) await pause(IDLE_RETRY_MS);
    }
  }

  private shouldGiveUp(): boolean {
    if (this.heldCount() <= this.share() || Date.now() - this.lastGiveUp < GIVE_UP_EVERY_MS) return false;
    this.lastGiveUp = Date.now();
    return true;
  }
}

/**
 * One stream and its lease. A new holder first claims whatever the previous
 * one left pending, so a crashed instance's entries are routed by a live one.
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
class IngressPartition {
  private readonly log = new Logger('IngressStream');
  readonly stream: string;
  private readonly lease: string;
  /** Blocking reads need a connection of their own, without the command timeout; made when first needed. */
  private reader?: RedisClient;
  private stopped = false;
  held = false;
  /** Cleared when Redis answers NOGROUP (it restarted empty), so the group is created again. */
  private groupReady = false;
  /** Set when an entry failed to route and waits, pending, for another attempt before anything after it. */
  private retrying = false;
  /** Failed attempts of the entries being retried, by entry id. */
  private readonly failures = new Map<string, number>();

  constructor(
    keys: { readonly stream: string; readonly lease: string },
    private readonly consumer: string,
    private readonly redis: RedisConnection,
    private readonly catalogue: EventCatalogue,
    private readonly router: EventRouter,
    private readonly metrics: Metrics,
  ) {
    this.stream = keys.stream;
    this.lease = keys.lease;
  }

  stop(): void {
    this.stopped = true;
    this.reader?.disconnect();
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.redis.client.eval(RELEASE, 1, this.lease, this.consumer).catch(() => undefined);
  }

  /** One turn of the partition's loop; false when there was nothing to do (not held, or failed) and the loop should pause. */
  async step(policy: { mayTake(): boolean; shouldGiveUp(): boolean }): Promise<boolean> {
    try {
      await this.ensureGroup();
      if (!this.held && !policy.mayTake()) return false;
      if (!(await this.holdLease())) return false;
      if (policy.shouldGiveUp()) {
        // Between batches: nothing of this partition is being routed, nothing is pending here.
        await this.release();
        this.log.log(`this instance (${this.consumer}) hands ${this.stream} on to another`);
        return false;
      }
      if (this.retrying) {
        this.retrying = false;
        await pause(ROUTING_RETRY_MS);
        await this.claimPending();
      } else {
        await this.readOnce();
      }
      return true;
    } catch (error) {
      if (this.stopped) return false;
      const message = (error as Error).message;
      // A Redis that restarted empty has lost the group: create it again.
      if (message.includes('NOGROUP')) this.groupReady = false;
      else if (this.held) this.log.warn(`reading ${this.stream} failed: ${message}`);
      this.held = false;
      return false;
    }
  }

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the start of the stream: events added before any gateway ran are not lost.
      await this.redis.client.xgroup('CREATE', this.stream, INGRESS_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.groupReady = true;
  }

  /** Takes or renews the lease; on taking it, claims what the previous holder left pending. */
  private async holdLease(): Promise<boolean> {
    const held = (await this.redis.client.eval(ACQUIRE, 1, this.lease, this.consumer, LEASE_MS)) === 1;
    // The next holder claims and counts for itself.
    if (!held) this.failures.clear();
    if (held && !this.held) {
      this.held = true;
      this.log.log(`this instance (${this.consumer}) now reads ${this.stream}`);
      await this.claimPending();
    }
    this.held = held;
    return held;
  }

  private async claimPending(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.redis.client.xautoclaim(
        this.stream,
        INGRESS_GROUP,
        this.consumer,
        0,
        cursor,
        'COUNT',
        BATCH,
      )) as [string, StreamEntry[]];
      // Nothing after an entry that waits for another attempt may pass it.
      if (!(await this.handle(entries.filter((entry) => entry && entry[1]), true))) return;
      cursor = next;
    } while (cursor !== '0-0' && !this.stopped);
  }

  private async readOnce(): Promise<void> {
    this.reader ??= this.newReader();
    const reply = (await this.reader.xreadgroup(
      'GROUP',
      INGRESS_GROUP,
      this.consumer,
      'COUNT',
      BATCH,
      'BLOCK',
      BLOCK_MS,
      'STREAMS',
      this.stream,
      '>',
    )) as Array<[string, StreamEntry[]]> | null;
    if (reply) await this.handle(reply[0][1], false);
  }

  /**
   * Routes the entries in order and acknowledges them; an entry that does not
   * parse, or keeps failing to route, goes to the dead letters. False when an
   * entry failed and waits (pending, with those after it) for another attempt.
   * `retried`: the entries were claimed, so some may have been buffered already.
   */
  private async handle(entries: StreamEntry[], retried: boolean): Promise<boolean> {
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
    if (!(await this.route(routable, retried))) {
      await this.acknowledge(routable);
      return true;
    }
    // One of them fails: alone, it holds back only itself and what follows it. Part of the batch may be buffered.
    for (const entry of routable) {
      const failure = await this.route([entry], true);
      if (!failure) {
        this.failures.delete(entry.id);
        await this.acknowledge([entry]);
        continue;
      }
      const attempts = (this.failures.get(entry.id) ?? 0) + 1;
      if (attempts < MAX_ROUTING_ATTEMPTS) {
        this.failures.set(entry.id, attempts);
        this.log.warn(`routing ${this.stream} entry ${entry.id} failed (attempt ${attempts} of ${MAX_ROUTING_ATTEMPTS}): ${failure.message}`);
        this.retrying = true;
        return false;
      }
      this.failures.delete(entry.id);
      await this.deadLetter(entry.id, entry.fields, 'routing', `routing failed ${attempts} times: ${failure.message}`);
    }
    return true;
  }

  /** Undefined once routed; the failure otherwise. Redis being unreachable is thrown: no entry is to blame. */
  private async route(entries: readonly RoutableEntry[], retried: boolean): Promise<Error | undefined> {
    try {
      await this.router.route(entries.map((entry) => entry.event), { retried });
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      return error as Error;
    }
    this.metrics.eventsReceived.inc({ source: 'stream' }, entries.length);
    return undefined;
  }

  private async acknowledge(entries: ReadonlyArray<{ readonly id: string }>): Promise<void> {
    await viaRedis(() => this.redis.client.xack(this.stream, INGRESS_GROUP, ...entries.map((entry) => entry.id)));
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
      this.log.warn(`moved ${this.stream} entry ${id} to ${INGRESS_DEAD_LETTERS}: ${error}`);
    } catch (failure) {
      if (failure instanceof StoreUnavailableError) throw failure;
      this.log.error(`dropped ${this.stream} entry ${id} (${error}): ${INGRESS_DEAD_LETTERS} refused it: ${(failure as Error).message}`);
    }
    await this.acknowledge([{ id }]);
    this.metrics.ingressDeadLetters.inc({ reason });
  }

  private newReader(): RedisClient {
    return this.redis.blockingClient('vora-gateway-ingress');
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
