import { Delivery } from './event-buffer.store';

/**
 * Hands buffered events to whichever instance holds each session's socket.
 * In memory mode that is this process; with Redis it is a pub/sub channel
 * every instance listens on. At-most-once: a socket that sees a hole in the
 * ids reads the missing events back from the buffer.
 */
export abstract class DeliveryBus {
  abstract deliver(deliveries: readonly Delivery[]): Promise<void>;
  abstract onDeliveries(handler: (deliveries: readonly Delivery[]) => void): void;
}
