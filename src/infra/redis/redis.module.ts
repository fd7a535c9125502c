import { DynamicModule, Global, Module } from '@nestjs/common';
import { GatewayConfig } from '../../config/gateway-config';
import { RedisConnection } from './redis-connection';

/**
 * The instance's pair of Redis connections (commands, pub/sub), shared by
 * every Redis adapter; provided only with STORE=redis. Global like the
 * configuration: it is infrastructure, not a feature.
 */
@Global()
@Module({})
export class RedisModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return config.store === 'redis'
      ? { module: RedisModule, providers: [RedisConnection], exports: [RedisConnection] }
      : { module: RedisModule };
  }
}
