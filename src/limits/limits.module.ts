import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimitGuard } from './rate-limit.guard';

/**
 * The per-caller rate limits. Import it after AuthModule: Nest runs global
 * guards in the order they are registered, and the limit is counted against
 * the caller AccessGuard has authenticated. The RateLimitStore port comes from
 * StorageModule (memory or Redis).
 */
@Module({
  providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class LimitsModule {}
