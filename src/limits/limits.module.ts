import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { byStore } from '../infra/store-adapter';
import { MemoryRateLimitStore } from './memory-rate-limit.store';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimitStore } from './rate-limit.store';
import { RedisRateLimitStore } from './redis-rate-limit.store';

/**
 * The per-caller rate limits. Import it after AuthModule: Nest runs global
 * guards in the order they are registered, and the limit is counted against
 * the caller AccessGuard has authenticated.
 */
@Module({
  providers: [
    byStore(RateLimitStore, { memory: MemoryRateLimitStore, redis: RedisRateLimitStore }),
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class LimitsModule {}
