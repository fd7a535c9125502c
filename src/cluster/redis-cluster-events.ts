import { Injectable, Logger } from '@nestjs/common';
import { Metrics } from '../infra/metrics/metrics';
import { RedisConnection } from '../infra/redis/redis-connection';
import { CLUSTER_CHANNELS, ClusterEventMap, ClusterEventName, ClusterEvents, ClusterListener, PublishOptions } from './cluster-events';
import { Instances } from './instances';

/** How long a settled publish waits for an instance that does not answer (dead, or resyncing) before it resolves anyway. */
export const SETTLE_TIMEOUT_MS = 2_000;

/** Where the instances that heard a settled event say so to the one that published it. */
export const acksChannel = (instanceId: string): string => `vora:acks:{${instanceId}}`;

/** The fields a settled event carries besides its payload: who waits for acks, and for which publish. */
interface SettleFields {
  readonly ackTo?: string;
  readonly ackId?: string;
}

interface PendingSettle {
  readonly waiting: Set<string>;
  readonly done: () => void;
}

/**
 * Each event name is a Redis pub/sub channel (CLUSTER_CHANNELS) carrying the
 * event as JSON (sharded on a Cluster: each channel lives on one shard);
 * every instance listens on its own connection. A settled
 * event also names its publisher and a publish id: each instance that heard
 * it answers on the publisher's acks channel once its listeners are done,
 * and the publish resolves when every instance alive when it was made has
 * answered, itself included.
 */
@Injectable()
export class RedisClusterEvents extends ClusterEvents {
  private readonly log = new Logger('ClusterEvents');
  private readonly pending = new Map<string, PendingSettle>();
  /** By event name: one subscription each, so that an instance answers a settled event once all its listeners are done. */
  private readonly listeners = new Map<ClusterEventName, { readonly all: Array<ClusterListener<never>>; readonly subscribed: Promise<void> }>();
  private nextAckId = 0;
  private acksHeard?: Promise<void>;

  constructor(
    private readonly redis: RedisConnection,
    private readonly instances: Instances,
    private readonly metrics: Metrics,
  ) {
    super();
  }

  async publish<Name extends ClusterEventName>(name: Name, event: ClusterEventMap[Name], options: PublishOptions = {}): Promise<void> {
    if (!options.settled) {
      await this.redis.publish(CLUSTER_CHANNELS[name], JSON.stringify(event));
      return;
    }
    await (this.acksHeard ??= this.redis.subscribe(acksChannel(this.instances.self), (message) => this.acked(message)));
    const ackId = String(++this.nextAckId);
    const settled = new Promise<void>((resolve) => {
      const waiting = new Set(this.instances.alive());
      // An instance hears its own event only when it listens to it (then it answers itself too).
      if (!this.listeners.has(name)) waiting.delete(this.instances.self);
      if (!waiting.size) return resolve();
      const timer = setTimeout(() => {
        this.pending.delete(ackId);
        this.metrics.clusterSettleTimeouts.inc({ event: name });
        this.log.warn(`${name}: no answer from ${[...waiting].join(', ')} within ${SETTLE_TIMEOUT_MS} ms; going on`);
        resolve();
      }, SETTLE_TIMEOUT_MS);
      this.pending.set(ackId, {
        waiting,
        done: () => {
          clearTimeout(timer);
          this.pending.delete(ackId);
          resolve();
        },
      });
    });
    const message: SettleFields & ClusterEventMap[Name] = { ...event, ackTo: this.instances.self, ackId };
    await this.redis.publish(CLUSTER_CHANNELS[name], JSON.stringify(message));
    await settled;
  }

  async listen<Name extends ClusterEventName>(name: Name, listener: ClusterListener<Name>): Promise<void> {
    let entry = this.listeners.get(name);
    if (!entry) {
      const all: Array<ClusterListener<never>> = [];
      // Only instances of this gateway publish on these channels, with publish() above.
      entry = { all, subscribed: this.redis.subscribe(CLUSTER_CHANNELS[name], (message) => void this.heard(message, all)) };
      this.listeners.set(name, entry);
    }
    entry.all.push(listener as ClusterListener<never>);
    await entry.subscribed;
  }

  onResync(listener: () => void): void {
    this.redis.onDisruption(listener);
  }

  private async heard(message: string, listeners: ReadonlyArray<ClusterListener<never>>): Promise<void> {
    let parsed: SettleFields & Record<string, unknown>;
    try {
      parsed = JSON.parse(message);
    } catch {
      return this.log.error(`ignored a cluster event that is not JSON: ${message.slice(0, 80)}`);
    }
    const { ackTo, ackId, ...event } = parsed;
    await Promise.all(
      listeners.map(async (listener) => {
        try {
          await listener(event as never);
        } catch (error) {
          this.log.error('a cluster event listener failed', (error as Error).stack);
        }
      }),
    );
    if (ackTo === undefined || ackId === undefined) return;
    if (ackTo === this.instances.self) this.acked(`${ackId} ${this.instances.self}`);
    else await this.redis.publish(acksChannel(ackTo), `${ackId} ${this.instances.self}`).catch(() => undefined);
  }

  /** `<ackId> <instanceId>`: that instance's listeners of the event are done. */
  private acked(message: string): void {
    const [ackId, instanceId] = message.split(' ');
    const settle = this.pending.get(ackId);
    if (!settle) return;
    settle.waiting.delete(instanceId);
    if (!settle.waiting.size) settle.done();
  }
}
