import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { Delivery } from './event-buffer.store';
import { DeliveryBus } from './delivery-bus';

/**
 * Every instance hears every delivery and hands on those whose sessions it
 * holds. One channel for the whole cluster: see docs/scaling.md for when to
 * shard it.
 */
export const DELIVERIES_CHANNEL = 'vora:deliveries';

/**
 * Each message is `<origin> ` and then one line per delivery, `<sessionId>
 * <id> <acceptedAt or -> <frame>`: the instance that routed the batch hands it
 * to its own sockets at once, and skips its own message when Redis echoes it,
 * so that it neither waits a round trip for its own sessions nor parses what
 * it wrote. Lines rather than JSON: a frame is JSON text, which has no raw
 * line break, so it travels as it is instead of escaped inside another JSON
 * string, and is read back by slicing instead of parsing.
 */
@Injectable()
export class RedisDeliveryBus extends DeliveryBus {
  private readonly logger = new Logger('DeliveryBus');
  private readonly handlers: Array<(deliveries: readonly Delivery[]) => void> = [];
  private readonly origin = randomUUID();
  private readonly ownPrefix = `${this.origin} `;
  private subscribed = false;

  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async deliver(deliveries: readonly Delivery[]): Promise<void> {
    if (!deliveries.length) return;
    this.handOn(deliveries);
    const message = this.ownPrefix + deliveryLines(deliveries);
    await viaRedis(() => this.redis.client.publish(DELIVERIES_CHANNEL, message));
  }

  onDeliveries(handler: (deliveries: readonly Delivery[]) => void): void {
    this.handlers.push(handler);
    if (this.subscribed) return;
    this.subscribed = true;
    // Not awaited: the port's registration is synchronous, and start-up must not wait for Redis.
    void this.redis.subscribe(DELIVERIES_CHANNEL, (message) => this.receive(message));
  }

  private receive(message: string): void {
    if (message.startsWith(this.ownPrefix)) return;
    const deliveries = readDeliveryLines(message, message.indexOf(' ') + 1);
    if (typeof deliveries === 'string') {
      this.logger.error(`ignored a malformed message on ${DELIVERIES_CHANNEL}: ${deliveries}`);
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

/** One line per delivery, each ending in a line break. */
export function deliveryLines(deliveries: readonly Delivery[]): string {
  let text = '';
  for (const { sessionId, id, acceptedAt, frame } of deliveries) text += `${sessionId} ${id} ${acceptedAt ?? '-'} ${frame}\n`;
  return text;
}

/** The deliveries of `text` from `start` on, or what is wrong with it (nothing is handed on then). */
export function readDeliveryLines(text: string, start: number): Delivery[] | string {
  const deliveries: Delivery[] = [];
  let at = start;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    const afterSession = text.indexOf(' ', at);
    const afterId = text.indexOf(' ', afterSession + 1);
    const afterAccepted = text.indexOf(' ', afterId + 1);
    if (end < 0 || afterSession <= at || afterId < 0 || afterAccepted < 0 || afterAccepted + 1 >= end) {
      return `line ${deliveries.length + 1} is not "<sessionId> <id> <acceptedAt> <frame>"`;
    }
    const id = Number(text.slice(afterSession + 1, afterId));
    const accepted = text.slice(afterId + 1, afterAccepted);
    const acceptedAt = accepted === '-' ? undefined : Number(accepted);
    if (!Number.isSafeInteger(id) || id < 1 || (acceptedAt !== undefined && !Number.isFinite(acceptedAt))) {
      return `line ${deliveries.length + 1} has a malformed id or time`;
    }
    deliveries.push({ sessionId: text.slice(at, afterSession), id, acceptedAt, frame: text.slice(afterAccepted + 1, end) });
    at = end + 1;
  }
  return deliveries;
}
