import { Delivery } from './event-buffer.store';

/**
 * Hands buffered events to the instance that holds each session's socket,
 * and to that one only. In memory mode that is this process; with Redis each
 * instance has a pub/sub channel of its own. At-most-once: a socket that sees
 * a hole in the ids reads the missing events back from the buffer.
 */
export abstract class DeliveryBus {
  /** `instanceId`: the holder of every one of the deliveries' sockets. */
  abstract deliver(instanceId: string, deliveries: readonly Delivery[]): Promise<void>;
  /** Receives the deliveries for the sockets this instance holds. */
  abstract onDeliveries(handler: (deliveries: readonly Delivery[]) => void): void;
  /**
   * Called when deliveries for this instance may have been missed (its
   * channel was re-subscribed after a connection or a shard was lost), or
   * buffers may have lost their newest events (a failover): the sockets
   * read back from their buffers.
   */
  abstract onMissed(handler: () => void): void;
}
