import type { DestinationStream } from 'pino';
import { SessionStore } from '../../src/session/session.store';
import { SubscriptionStore } from '../../src/subscriptions/subscription.store';
import { HttpResult, RunningGateway, startGateway } from './gateway';
import { GatewayProcess } from './gateway-process';
import { startRedisCluster, TestRedisCluster } from './redis-cluster';
import { startRedisSentinel, TestRedisSentinel } from './redis-sentinel';
import { startRedis, TestRedis } from './redis-server';
import { TestIssuer } from './test-issuer';
import { WebhookReceiver } from './webhook-receiver';
import { Refusal, TestSocket } from './ws-client';

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
export type { TestRedisCluster } from './redis-cluster';
export type { TestRedisSentinel } from './redis-sentinel';
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

/**
 * What the use* helpers started, newest last. jest runs the afterAll hooks of
 * a block in the order they were declared; stopping is the other way round
 * (a gateway before the Redis and the issuer it was started with), so each
 * afterAll stops everything started after its own resource, then that one.
 */
const running: Array<{ stop(): Promise<void> }> = [];

/** Starts a resource in beforeAll and stops it, newest first, in afterAll. */
function started<T extends object>(what: string, start: () => Promise<{ value: T; stop(): Promise<void> }>): T {
  const stand = standIn<T>(what);
  let entry: { stop(): Promise<void> } | undefined;
  beforeAll(async () => {
    const { value, stop } = await start();
    entry = { stop };
    running.push(entry);
    stand.bind(value);
  });
  afterAll(async () => {
    const at = entry ? running.indexOf(entry) : -1;
    if (at >= 0) for (const newer of running.splice(at).reverse()) await newer.stop();
    stand.bind(undefined);
  });
  return stand.proxy;
}

export interface UseGatewayOptions {
  /**
   * false: no test issuer, the gateway signs in with its development issuer;
   * an issuer (from useIssuer): the gateway trusts that one, shared with other
   * gateways of the suite.
   */
  issuer?: boolean | TestIssuer;
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
  const shared = typeof options.issuer === 'object' ? options.issuer : undefined;
  const issuer = shared ?? (options.issuer === false ? standIn<TestIssuer>('the test issuer (this gateway has none)').proxy : useIssuer());
  const trusted = options.issuer === false ? undefined : issuer;
  const gateway = started<RunningGateway>('the gateway', async () => {
    if (trusted) await options.beforeStart?.(trusted);
    const variables = typeof env === 'function' ? await env(trusted!) : env;
    const value = await startGateway({ ...trusted?.env(), ...variables }, { logStream: options.logStream });
    return { value, stop: () => value.close() };
  });
  return { issuer, gateway };
}

/** A test issuer, started before the enclosing describe block's tests and stopped after them. */
export function useIssuer(): TestIssuer {
  return started('the test issuer', async () => {
    const value = await TestIssuer.start();
    return { value, stop: () => value.close() };
  });
}

/** A throwaway, empty Redis, started before the enclosing describe block's tests and stopped after them. */
export function useRedis(): TestRedis {
  return started('the test Redis', async () => {
    const value = await startRedis();
    // Empty even when it is an external REDIS_URL other runs wrote to.
    await value.flush();
    return { value, stop: () => value.close() };
  });
}

/** A Redis Cluster (three masters, a replica each, on loopback), started before the block's tests and stopped after them. */
export function useRedisCluster(): TestRedisCluster {
  return started('the test Redis Cluster', async () => {
    const value = await startRedisCluster();
    return { value, stop: () => value.close() };
  });
}

/** A Sentinel set-up (a master, a replica, three sentinels), started before the block's tests and stopped after them. */
export function useRedisSentinel(): TestRedisSentinel {
  return started('the test Sentinel set-up', async () => {
    const value = await startRedisSentinel();
    return { value, stop: () => value.close() };
  });
}

/** Each Redis topology the gateway runs on, for suites that run on all of them (`describe.each`). */
export const REDIS_TOPOLOGIES = ['redis', 'redis cluster', 'redis sentinel'] as const;
export type RedisTopologyName = (typeof REDIS_TOPOLOGIES)[number];

/**
 * A gateway as its own process (the compiled build), started like useGateway's
 * and killed with `signal` after the block's tests.
 */
export function useGatewayProcess(
  env: Env | ((issuer: TestIssuer) => Env | Promise<Env>),
  options: { issuer: TestIssuer; signal?: NodeJS.Signals },
): GatewayProcess {
  return started('the gateway process', async () => {
    const variables = typeof env === 'function' ? await env(options.issuer) : env;
    const value = await GatewayProcess.start({ ...options.issuer.env(), ...(variables as Record<string, string>) });
    return { value, stop: async () => void (await value.kill(options.signal ?? 'SIGTERM')) };
  });
}

/** A receiver for the gateway's webhooks, started before the block's tests and stopped after them. */
export function useWebhookReceiver(): WebhookReceiver {
  return started('the webhook receiver', async () => {
    const value = await WebhookReceiver.start();
    return { value, stop: () => value.close() };
  });
}

/**
 * Sockets a test opened, closed after each test so that tests do not see each
 * other's: push them on `sockets`, or pass what openSession or connect
 * returned through `track`.
 */
export function useSockets(): { sockets: TestSocket[]; track<T extends { socket: TestSocket }>(opened: T): T } {
  const sockets: TestSocket[] = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  return {
    sockets,
    track: (opened) => {
      sockets.push(opened.socket);
      return opened;
    },
  };
}

/**
 * Every test starts without sessions or subscriptions of the sample users, so
 * that tests do not see each other's.
 */
export function forgetSessionsAfterEach(gateway: RunningGateway, subs = ['alice', 'bob', 'carol', 'oscar', 'erin']): void {
  afterEach(async () => {
    const store = gateway.app.get(SessionStore);
    const subscriptions = gateway.app.get(SubscriptionStore);
    for (const sub of subs) {
      for (const session of await store.listByUser(sub)) {
        await store.remove(session.id);
        await subscriptions.delete(session.sub, session.identity);
      }
    }
  });
}

/** A refused upgrade as an HttpResult, to assert the error body like any other route's. */
export const asHttp = (refusal: Refusal): HttpResult => ({
  status: refusal.status,
  headers: new Headers(refusal.headers as Record<string, string>),
  body: refusal.body,
});
