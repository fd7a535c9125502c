/**
 * Messages between gateway instances: a logout or a subscription change on
 * one instance must reach sockets held by every other. In memory mode the bus
 * is local; with Redis it is pub/sub. Delivery is at-most-once and ordered
 * per topic, like Redis pub/sub.
 */
export abstract class ClusterEvents {
  abstract publish(topic: string, message: string): Promise<void>;
  /** The handler runs for every message published to the topic after this resolves. */
  abstract subscribe(topic: string, handler: (message: string) => void): Promise<void>;
}
