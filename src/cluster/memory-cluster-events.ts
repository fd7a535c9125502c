import { EventEmitter } from 'node:events';
import { ClusterEvents } from './cluster-events';

/** The bus of a single instance: a synchronous local emitter. */
export class MemoryClusterEvents extends ClusterEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(topic: string, message: string): Promise<void> {
    this.emitter.emit(topic, message);
  }

  async subscribe(topic: string, handler: (message: string) => void): Promise<void> {
    this.emitter.on(topic, handler);
  }
}
