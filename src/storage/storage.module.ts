import { DynamicModule, Global, Module, Provider, Type } from '@nestjs/common';
import { ClusterEvents } from '../cluster/cluster-events';
import { MemoryClusterEvents } from '../cluster/memory-cluster-events';
import { RedisClusterEvents } from '../cluster/redis-cluster-events';
import { GatewayConfig } from '../config/gateway-config';
import { EventBufferStore } from '../events/event-buffer.store';
import { DeliveryBus } from '../events/delivery-bus';
import { MemoryEventBufferStore } from '../events/memory-event-buffer.store';
import { MemoryDeliveryBus } from '../events/memory-delivery-bus';
import { RedisEventBufferStore } from '../events/redis-event-buffer.store';
import { RedisDeliveryBus } from '../events/redis-delivery-bus';
import { MemoryPendingCallStore } from '../holdup/memory-pending-calls.store';
import { PendingCallStore } from '../holdup/pending-calls.store';
import { RedisPendingCallStore } from '../holdup/redis-pending-calls.store';
import { MemoryRateLimitStore } from '../limits/memory-rate-limit.store';
import { RateLimitStore } from '../limits/rate-limit.store';
import { RedisRateLimitStore } from '../limits/redis-rate-limit.store';
import { MemoryPresenceStore } from '../session/memory-presence.store';
import { PresenceStore } from '../session/presence.store';
import { RedisPresenceStore } from '../session/redis-presence.store';
import { MemorySessionStore } from '../session/memory-session.store';
import { MemorySubscriptionStore } from '../subscriptions/memory-subscription.store';
import { RedisSessionStore } from '../session/redis-session.store';
import { RedisSubscriptionStore } from '../subscriptions/redis-subscription.store';
import { SessionStore } from '../session/session.store';
import { SubscriptionStore } from '../subscriptions/subscription.store';
import { RedisConnection } from '../infra/redis/redis-connection';

/** Every storage port with its adapter per STORE: [port, memory, redis]. */
const ADAPTERS: ReadonlyArray<readonly [port: abstract new (...args: never[]) => unknown, memory: Type, redis: Type]> = [
  [ClusterEvents, MemoryClusterEvents, RedisClusterEvents],
  [SessionStore, MemorySessionStore, RedisSessionStore],
  [SubscriptionStore, MemorySubscriptionStore, RedisSubscriptionStore],
  [EventBufferStore, MemoryEventBufferStore, RedisEventBufferStore],
  [DeliveryBus, MemoryDeliveryBus, RedisDeliveryBus],
  [PresenceStore, MemoryPresenceStore, RedisPresenceStore],
  [PendingCallStore, MemoryPendingCallStore, RedisPendingCallStore],
  [RateLimitStore, MemoryRateLimitStore, RedisRateLimitStore],
];

/**
 * Picks the adapter of every storage port from STORE, in one place, so that
 * no caller knows whether it talks to memory or Redis.
 */
@Global()
@Module({})
export class StorageModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    if (config.store !== 'memory' && config.store !== 'redis') throw new Error(`STORE=${config.store} is not supported by this build`);
    const redis = config.store === 'redis';
    // Each adapter is a provider of its own, which its port points at: an adapter may then
    // depend on another by class (MemoryPresenceStore keeps presence in MemorySessionStore's records).
    const ports: Provider[] = ADAPTERS.flatMap(([port, memory, redisAdapter]) => {
      const adapter = redis ? redisAdapter : memory;
      return [adapter, { provide: port, useExisting: adapter }];
    });
    const tokens = ADAPTERS.map(([port]) => port);
    // With Redis every port shares one pair of connections (commands, pub/sub), exported too for
    // Redis-only features (the ingress stream, the egress stream).
    return redis
      ? { module: StorageModule, providers: [RedisConnection, ...ports], exports: [RedisConnection, ...tokens] }
      : { module: StorageModule, providers: ports, exports: tokens };
  }
}
