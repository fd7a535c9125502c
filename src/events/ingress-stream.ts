import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import Redis from 'ioredis';
import { Metrics } from '../metrics/metrics';
import { RedisConnection } from '../storage/redis-connection';
import { EventCatalogue } from './catalogue';
import { EventRouter } from './event-router';
import { parsePublished, PublishedEvent } from './ingress';

export const INGRESS_STREAM = 'vora:ingress';
export const INGRESS_GROUP = 'vora-gateway';
/** The instance holding this lease is the one consumer reading the stream. */
export const INGRESS_LEASE = 'vora:ingress:reader';

const LEASE_MS = 6_000;
const BLOCK_MS = 2_000;
const BATCH = 500;
const IDLE_RETRY_MS = 1_000;

type StreamEntry = [id: string, fields: string[]];

/**
 * Consumes `vora:ingress` (SPEC section 6) as one consumer group. Only the
 * holder of a short lease reads, so that entries are routed in stream order
 * (two instances reading side by side could route neighbouring events of one
 * identity out of order). A new holder first claims whatever the previous one
 * left pending, so a crashed instance's entries are routed by a live one.
 * Entries are acknowledged after routing; an instance killed between the two
 * leaves its last batch to be routed again, and the buffers skip what each
 * session already took (by entry id), so every event is buffered once.
 */
@Injectable()
export class IngressStreamConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('IngressStream');
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private reader?: Redis;
  private running = false;
  private loop?: Promise<void>;
  private leader = false;
  /** Cleared when Redis answers NOGROUP (it restarted empty), so the group is created again. */
  private groupReady = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly catalogue: EventCatalogue,
    private readonly router: EventRouter,
    private readonly metrics: Metrics,
  ) {}

  onApplicationBootstrap(): void {
    // Blocking reads need a connection of their own, without the command timeout.
    this.reader = this.connection.client.duplicate({ connectionName: 'vora-gateway-ingress', commandTimeout: undefined });
    this.reader.on('error', () => undefined);
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.reader?.disconnect();
    await this.loop;
    if (this.leader) await this.connection.client.eval(RELEASE, 1, INGRESS_LEASE, this.consumer).catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.ensureGroup();
        if (!(await this.holdLease())) {
          await pause(IDLE_RETRY_MS);
          continue;
        }
        await this.readOnce();
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
      await this.connection.client.xgroup('CREATE', INGRESS_STREAM, INGRESS_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.groupReady = true;
  }

  /** Takes or renews the lease; on taking it, claims what the previous holder left pending. */
  private async holdLease(): Promise<boolean> {
    const held = (await this.connection.client.eval(ACQUIRE, 1, INGRESS_LEASE, this.consumer, LEASE_MS)) === 1;
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
      const [next, entries] = (await this.connection.client.xautoclaim(
        INGRESS_STREAM,
        INGRESS_GROUP,
        this.consumer,
        0,
        cursor,
        'COUNT',
        BATCH,
      )) as [string, StreamEntry[]];
      await this.handle(entries.filter((entry) => entry && entry[1]));
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

  /** Routes valid entries in order and acknowledges all; an invalid entry is logged and dropped. */
  private async handle(entries: StreamEntry[]): Promise<void> {
    if (!entries.length) return;
    const events: PublishedEvent[] = [];
    for (const [id, fields] of entries) {
      try {
        // The entry id makes routing it again (after a crash) a no-op for sessions that took it.
        events.push(...parsePublished(fromFields(fields), this.catalogue).map((event) => ({ ...event, sourceId: id })));
      } catch (error) {
        this.log.warn(`dropping ${INGRESS_STREAM} entry ${id}: ${(error as Error).message}`);
      }
    }
    if (events.length) {
      await this.router.route(events);
      this.metrics.eventsReceived.inc({ source: 'stream' }, events.length);
    }
    await this.connection.client.xack(INGRESS_STREAM, INGRESS_GROUP, ...entries.map(([id]) => id));
  }
}

/** Stream fields `event`, `identity` or `group`, `data` (JSON), `occurredAt`, as one published event. */
export function fromFields(fields: string[]): Record<string, unknown> {
  const item: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) item[fields[i]] = fields[i + 1];
  if (typeof item.data === 'string') {
    try {
      item.data = JSON.parse(item.data);
    } catch {
      throw new Error('data must be JSON');
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
