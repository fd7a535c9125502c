import { EventEmitter } from 'node:events';
import { ClusterEventMap, ClusterEventName, ClusterEvents, ClusterListener } from './cluster-events';

/** The events of a single instance: a synchronous local emitter. */
export class MemoryClusterEvents extends ClusterEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish<Name extends ClusterEventName>(name: Name, event: ClusterEventMap[Name]): Promise<void> {
    this.emitter.emit(name, event);
  }

  async listen<Name extends ClusterEventName>(name: Name, listener: ClusterListener<Name>): Promise<void> {
    this.emitter.on(name, listener);
  }
}
