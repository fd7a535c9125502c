import { ClusterEventMap, ClusterEventName, ClusterEvents, ClusterListener } from './cluster-events';

/** The events of a single instance: its listeners, called in order and awaited, so every publish is settled. */
export class MemoryClusterEvents extends ClusterEvents {
  private readonly listeners = new Map<ClusterEventName, Array<ClusterListener<never>>>();

  async publish<Name extends ClusterEventName>(name: Name, event: ClusterEventMap[Name]): Promise<void> {
    const listeners = (this.listeners.get(name) ?? []) as Array<ClusterListener<Name>>;
    for (const listener of listeners) await listener(event);
  }

  async listen<Name extends ClusterEventName>(name: Name, listener: ClusterListener<Name>): Promise<void> {
    const listeners = this.listeners.get(name);
    if (listeners) listeners.push(listener as ClusterListener<never>);
    else this.listeners.set(name, [listener as ClusterListener<never>]);
  }

  /** One process misses nothing. */
  onResync(): void {}
}
