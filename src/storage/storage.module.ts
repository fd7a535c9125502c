import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
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

/**
 * Picks the adapter of every storage port from STORE, in one place, so that
 * no caller knows whether it talks to memory or Redis.
 */
@Global()
@Module({})
export class StorageModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    if (config.store === 'redis') return StorageModule.redis();
    if (config.store !== 'memory') throw new Error(`STORE=${config.store} is not supported by this build`);
    const providers: Provider[] = [
      { provide: ClusterBus, useClass: MemoryClusterBus },
      { provide: SessionStore, useClass: MemorySessionStore },
      { provide: SubscriptionStore, useClass: MemorySubscriptionStore },
      { provide: EventBuffer, useClass: MemoryEventBuffer },
      { provide: EventBus, useClass: MemoryEventBus },
      { provide: Presence, useClass: MemoryPresence },
      { provide: PendingCallStore, useClass: MemoryPendingCallStore },
      { provide: RateLimiter, useClass: MemoryRateLimiter },
    ];
    return {
      module: StorageModule,
      providers,
      exports: providers.map((p) => (p as { provide: unknown }).provide as never),
    };
  }

  /** Every port on one shared pair of connections (commands, pub/sub) to REDIS_URL. */
  private static redis(): DynamicModule {
    const ports: Provider[] = [
      { provide: ClusterBus, useClass: RedisClusterBus },
      { provide: SessionStore, useClass: RedisSessionStore },
      { provide: SubscriptionStore, useClass: RedisSubscriptionStore },
      { provide: EventBuffer, useClass: RedisEventBuffer },
      { provide: EventBus, useClass: RedisEventBus },
      { provide: Presence, useClass: RedisPresence },
      { provide: PendingCallStore, useClass: RedisPendingCallStore },
      { provide: RateLimiter, useClass: RedisRateLimiter },
    ];
    return {
      module: StorageModule,
      providers: [RedisConnection, ...ports],
      // The connection is exported too, for Redis-only features (the ingress stream).
      exports: [RedisConnection, ...ports.map((p) => (p as { provide: unknown }).provide as never)],
    };
  }
}
