import { Provider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { GatewayConfig } from '../config/gateway-config';

type Port<T> = abstract new (...args: never[]) => T;

/**
 * The provider of a feature's port: its memory adapter, or with STORE=redis
 * its Redis one, built by the feature module's own injector (so the adapter's
 * dependencies are what that module imports). Only the chosen adapter is
 * built: the Redis one is the only one that needs a RedisConnection.
 */
export function byStore<T>(port: Port<T>, adapters: { readonly memory: Type<T>; readonly redis: Type<T> }): Provider {
  return {
    provide: port,
    inject: [GatewayConfig, ModuleRef],
    useFactory: (config: GatewayConfig, refs: ModuleRef): Promise<T> =>
      refs.create(config.store.kind === 'redis' ? adapters.redis : adapters.memory),
  };
}
