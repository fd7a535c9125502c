import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../storage/redis-connection';
import { Delivery } from './event-buffer';
import { EventBus } from './event-bus';

/**
 * Every instance hears every delivery and hands on those whose sessions it
 * holds. One channel for the whole cluster: see docs/scaling.md for when to
 * shard it.
 */
export const DELIVERIES_CHANNEL = 'vora:deliveries';

/**
 * Each message is `<origin> <JSON array of deliveries>`: the instance that
 * routed the batch hands it to its own sockets at once, and skips its own
 * message when Redis echoes it, so that it neither waits a round trip for its
 * own sessions nor parses what it wrote.
 */
@Injectable()
export class RedisEventBus extends EventBus {
  private readonly logger = new Logger('EventBus');
  private readonly handlers: Array<(deliveries: readonly Delivery[]) => void> = [];
  private readonly origin = randomUUID();
  private readonly ownPrefix = `${this.origin} `;
  private subscribed = false;

  constructor(private readonly connection: RedisConnection) {
    super();
  }

  async deliver(deliveries: readonly Delivery[]): Promise<void> {
    if (!deliveries.length) return;
    this.handOn(deliveries);
    const payload = JSON.stringify(deliveries.map(({ sessionId, id, frame, acceptedAt }) => ({ sessionId, id, frame, acceptedAt })));
    await viaRedis(() => this.connection.client.publish(DELIVERIES_CHANNEL, this.ownPrefix + payload));
  }

  onDeliveries(handler: (deliveries: readonly Delivery[]) => void): void {
    this.handlers.push(handler);
    if (this.subscribed) return;
    this.subscribed = true;
    // Not awaited: the port's registration is synchronous, and start-up must not wait for Redis.
    void this.connection.subscribe(DELIVERIES_CHANNEL, (message) => this.receive(message));
  }

  private receive(message: string): void {
    if (message.startsWith(this.ownPrefix)) return;
    let deliveries: Delivery[];
    try {
      deliveries = JSON.parse(message.slice(message.indexOf(' ') + 1)) as Delivery[];
      if (!Array.isArray(deliveries)) throw new Error('not an array');
    } catch (error) {
      this.logger.error(`ignored a malformed message on ${DELIVERIES_CHANNEL}: ${(error as Error).message}`);
      return;
    }
    this.handOn(deliveries);
  }

  private handOn(deliveries: readonly Delivery[]): void {
    for (const handler of this.handlers) {
      try {
        handler(deliveries);
      } catch (error) {
        this.logger.error('a deliveries handler failed', (error as Error).stack);
      }
    }
  }
}
