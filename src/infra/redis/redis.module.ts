import { DynamicModule, Global, Module } from '@nestjs/common';
import { GatewayConfig } from '../../config/gateway-config';
import { Metrics } from '../metrics/metrics';
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
    const { store } = config;
    if (store.kind !== 'redis') return { module: RedisModule };
    const connection = { provide: RedisConnection, inject: [Metrics], useFactory: (metrics: Metrics) => new RedisConnection(store.topology, metrics) };
    return { module: RedisModule, providers: [connection], exports: [RedisConnection] };
  }
}
