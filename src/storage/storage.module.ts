import { DynamicModule, Global, Module, Provider, Type } from '@nestjs/common';
import { ClusterBus } from '../cluster/cluster-events';
import { MemoryClusterBus } from '../cluster/memory-cluster-events';
import { RedisClusterBus } from '../cluster/redis-cluster-events';
import { GatewayConfig } from '../config/gateway-config';
import { EventBuffer } from '../events/event-buffer.store';
import { EventBus } from '../events/delivery-bus';
import { MemoryEventBuffer } from '../events/memory-event-buffer.store';
import { MemoryEventBus } from '../events/memory-delivery-bus';
import { RedisEventBuffer } from '../events/redis-event-buffer.store';
import { RedisEventBus } from '../events/redis-delivery-bus';
import { MemoryPendingCallStore } from '../holdup/memory-pending-calls.store';
import { PendingCallStore } from '../holdup/pending-calls.store';
import { RedisPendingCallStore } from '../holdup/redis-pending-calls.store';
import { MemoryRateLimiter } from '../limits/memory-rate-limit.store';
import { RateLimiter } from '../limits/rate-limit.store';
import { RedisRateLimiter } from '../limits/redis-rate-limit.store';
import { MemoryPresence } from '../session/memory-presence.store';
import { Presence } from '../session/presence.store';
import { RedisPresence } from '../session/redis-presence.store';
import { MemorySessionStore } from '../session/memory-session.store';
import { MemorySubscriptionStore } from '../subscriptions/memory-subscription.store';
import { RedisSessionStore } from '../session/redis-session.store';
import { RedisSubscriptionStore } from '../subscriptions/redis-subscription.store';
import { SessionStore } from '../session/session.store';
import { SubscriptionStore } from '../subscriptions/subscription.store';
import { RedisConnection } from '../infra/redis/redis-connection';

/** Every storage port with its adapter per STORE: [port, memory, redis]. */
const ADAPTERS: ReadonlyArray<readonly [port: abstract new (...args: never[]) => unknown, memory: Type, redis: Type]> = [
  [ClusterBus, MemoryClusterBus, RedisClusterBus],
  [SessionStore, MemorySessionStore, RedisSessionStore],
  [SubscriptionStore, MemorySubscriptionStore, RedisSubscriptionStore],
  [EventBuffer, MemoryEventBuffer, RedisEventBuffer],
  [EventBus, MemoryEventBus, RedisEventBus],
  [Presence, MemoryPresence, RedisPresence],
  [PendingCallStore, MemoryPendingCallStore, RedisPendingCallStore],
  [RateLimiter, MemoryRateLimiter, RedisRateLimiter],
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
    // depend on another by class (MemoryPresence keeps presence in MemorySessionStore's records).
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
