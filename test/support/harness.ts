import type { DestinationStream } from 'pino';
import { RunningGateway, startGateway } from './gateway';
import { startRedis, TestRedis } from './redis-server';
import { TestIssuer } from './test-issuer';

/**
 * The one harness every end-to-end suite starts from: a test issuer, a gateway
 * that trusts it (in process or as its own process), a throwaway Redis, and the
 * clients and helpers to talk to them. Suites import from here, not from the
 * files behind it.
 */
export { expectError, http, startGateway } from './gateway';
export type { HttpResult, RunningGateway } from './gateway';
export { GatewayProcess } from './gateway-process';
export { TestIssuer } from './test-issuer';
export type { SigningKey, TokenOptions } from './test-issuer';
export { openSession, publish, publishAccepted, setupSession, TestSocket } from './ws-client';
export type { Refusal, SocketOptions } from './ws-client';
export { connectRedis, faultTestsUnsupported, redisConfig, startRedis } from './redis-server';
export type { TestRedis } from './redis-server';
export { eventually } from './eventually';
export type { EventuallyOptions } from './eventually';
export { freePort } from './free-port';
export { LogCapture } from './log-capture';
export { WebhookReceiver } from './webhook-receiver';

export type Env = Record<string, string | undefined>;

/**
 * An object that stands for one started later (in beforeAll): every property
 * read or write goes to the started one; reading it before the start fails and
 * says what was not started yet.
 */
function standIn<T extends object>(what: string): { proxy: T; bind(target: T | undefined): void } {
  let current: T | undefined;
  const target = (): T => {
    if (!current) throw new Error(`${what} is not running: it is started in beforeAll and stopped in afterAll`);
    return current;
  };
  const proxy = new Proxy({} as T, {
    get: (_, property) => {
      const value = Reflect.get(target(), property);
      return typeof value === 'function' ? value.bind(current) : value;
    },
    set: (_, property, value) => Reflect.set(target(), property, value),
    has: (_, property) => Reflect.has(target(), property),
  });
  return { proxy, bind: (next) => (current = next) };
}

export interface UseGatewayOptions {
  /** false: no test issuer, the gateway signs in with its development issuer. */
  issuer?: boolean;
  /** Runs once the issuer listens, before the gateway starts (e.g. `issuer.setDown(true)`). */
  beforeStart?: (issuer: TestIssuer) => void | Promise<void>;
  /** Where the gateway writes its logs (they are silenced otherwise). */
  logStream?: DestinationStream;
}

/**
 * Starts a test issuer and a gateway that trusts it, with `env` on top of the
 * issuer's variables, before the tests of the enclosing describe block, and
 * stops both after them. `env` may be a function, evaluated in beforeAll, for
 * variables known only then (a Redis URL, a receiver's address).
 */
export function useGateway(
  env: Env | ((issuer: TestIssuer) => Env | Promise<Env>) = {},
  options: UseGatewayOptions = {},
): { issuer: TestIssuer; gateway: RunningGateway } {
  const issuer = standIn<TestIssuer>('the test issuer');
  const gateway = standIn<RunningGateway>('the gateway');
  let started: { issuer?: TestIssuer; gateway?: RunningGateway } = {};
  beforeAll(async () => {
    started = {};
    if (options.issuer !== false) {
      started.issuer = await TestIssuer.start();
      issuer.bind(started.issuer);
      await options.beforeStart?.(started.issuer);
    }
    const variables = typeof env === 'function' ? await env(started.issuer!) : env;
    started.gateway = await startGateway({ ...started.issuer?.env(), ...variables }, { logStream: options.logStream });
    gateway.bind(started.gateway);
  });
  afterAll(async () => {
    await started.gateway?.close();
    await started.issuer?.close();
    gateway.bind(undefined);
    issuer.bind(undefined);
  });
  return { issuer: issuer.proxy, gateway: gateway.proxy };
}

/** A test issuer alone, started before the enclosing describe block's tests and stopped after them. */
export function useIssuer(): TestIssuer {
  const issuer = standIn<TestIssuer>('the test issuer');
  let started: TestIssuer | undefined;
  beforeAll(async () => {
    started = await TestIssuer.start();
    issuer.bind(started);
  });
  afterAll(async () => {
    await started?.close();
    issuer.bind(undefined);
  });
  return issuer.proxy;
}

/** A throwaway Redis, started before the enclosing describe block's tests and stopped after them. */
export function useRedis(): TestRedis {
  const redis = standIn<TestRedis>('the test Redis');
  let started: TestRedis | undefined;
  beforeAll(async () => {
    started = await startRedis();
    redis.bind(started);
  });
  afterAll(async () => {
    await started?.close();
    redis.bind(undefined);
  });
  return redis.proxy;
}
