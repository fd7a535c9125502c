import { Injectable, Logger } from '@nestjs/common';
import { Instances } from '../cluster/instances';
import { Metrics } from '../infra/metrics/metrics';
import { RedisConnection } from '../infra/redis/redis-connection';
import { Delivery } from './event-buffer.store';
import { DeliveryBus } from './delivery-bus';

/** Each instance hears on a channel of its own the deliveries for the sockets it holds, and nothing else. */
export const deliveriesChannel = (instanceId: string): string => `vora:deliveries:{${instanceId}}`;

/**
 * Each message is one line per delivery, `<sessionId> <id> <acceptedAt or ->
 * <frame>`. Deliveries for this instance's own sockets are handed on at once,
 * without a round trip. Lines rather than JSON: a frame is JSON text, which
 * has no raw line break, so it travels as it is instead of escaped inside
 * another JSON string, and is read back by slicing instead of parsing.
 */
@Injectable()
export class RedisDeliveryBus extends DeliveryBus {
  private readonly logger = new Logger('DeliveryBus');
  private readonly handlers: Array<(deliveries: readonly Delivery[]) => void> = [];
  private readonly channel: string;
  private subscribed = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly instances: Instances,
    private readonly metrics: Metrics,
  ) {
    super();
    this.channel = deliveriesChannel(instances.self);
  }

  async deliver(instanceId: string, deliveries: readonly Delivery[]): Promise<void> {
    if (!deliveries.length) return;
    if (instanceId === this.instances.self) {
      this.metrics.busDeliveries.inc({ direction: 'own' }, deliveries.length);
      return this.handOn(deliveries);
    }
    this.metrics.busDeliveries.inc({ direction: 'sent' }, deliveries.length);
    const message = deliveryLines(deliveries);
    await this.redis.publish(deliveriesChannel(instanceId), message);
  }

  onDeliveries(handler: (deliveries: readonly Delivery[]) => void): void {
    this.handlers.push(handler);
    if (this.subscribed) return;
    this.subscribed = true;
    // Not awaited: the port's registration is synchronous, and start-up must not wait for Redis.
    void this.redis.subscribe(this.channel, (message) => this.receive(message));
  }

  onMissed(handler: () => void): void {
    this.redis.onDisruption(handler);
  }

  private receive(message: string): void {
    const deliveries = readDeliveryLines(message, 0);
    if (typeof deliveries === 'string') {
      this.logger.error(`ignored a malformed message on ${this.channel}: ${deliveries}`);
      return;
    }
    this.metrics.busDeliveries.inc({ direction: 'received' }, deliveries.length);
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
