import { DynamicModule, Global, Module, Provider, Type } from '@nestjs/common';
import { ClusterBus } from '../common/cluster-bus';
import { MemoryClusterBus } from '../common/memory-cluster-bus';
import { RedisClusterBus } from '../common/redis-cluster-bus';
import { GatewayConfig } from '../config/gateway-config';
import { EventBuffer } from '../events/event-buffer';
import { EventBus } from '../events/event-bus';
import { MemoryEventBuffer } from '../events/memory-event-buffer';
import { MemoryEventBus } from '../events/memory-event-bus';
import { RedisEventBuffer } from '../events/redis-event-buffer';
import { RedisEventBus } from '../events/redis-event-bus';
import { MemoryPendingCallStore } from '../holdup/memory-pending-calls.store';
import { PendingCallStore } from '../holdup/pending-calls.store';
import { RedisPendingCallStore } from '../holdup/redis-pending-calls.store';
import { MemoryRateLimiter } from '../limits/memory-rate-limiter';
import { RateLimiter } from '../limits/rate-limiter';
import { RedisRateLimiter } from '../limits/redis-rate-limiter';
import { MemoryPresence } from '../session/memory-presence';
import { Presence } from '../session/presence';
import { RedisPresence } from '../session/redis-presence';
import { MemorySessionStore } from '../session/memory-session.store';
import { MemorySubscriptionStore } from '../session/memory-subscription.store';
import { RedisSessionStore } from '../session/redis-session.store';
import { RedisSubscriptionStore } from '../session/redis-subscription.store';
import { SessionStore } from '../session/session.store';
import { SubscriptionStore } from '../session/subscription.store';
import { RedisConnection } from './redis-connection';

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
