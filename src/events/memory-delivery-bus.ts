import { Delivery } from './event-buffer.store';
import { DeliveryBus } from './delivery-bus';

/** One process: deliveries go straight to the local sockets, with no serialization. */
export class MemoryDeliveryBus extends DeliveryBus {
  private readonly handlers: Array<(deliveries: readonly Delivery[]) => void> = [];

  /** One instance: every socket is this process's. */
  async deliver(_instanceId: string, deliveries: readonly Delivery[]): Promise<void> {
    for (const handler of this.handlers) handler(deliveries);
  }

  onDeliveries(handler: (deliveries: readonly Delivery[]) => void): void {
    this.handlers.push(handler);
  }

  /** Nothing between the router and the sockets can lose a delivery. */
  onMissed(): void {}
}
