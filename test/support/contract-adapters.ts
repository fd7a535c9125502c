import { RedisConnection } from '../../src/infra/redis/redis-connection';
import { startRedisCluster, TestRedisCluster } from './redis-cluster';
import { connectRedis, RedisWhere, startRedis, TestRedis } from './redis-server';

/** What a contract test holds of an adapter while it runs. */
export interface Closeable {
  close(): Promise<void>;
}

/**
 * A redis-server started once for the spec that calls this (beforeAll) and
 * stopped after it (afterAll), or REDIS_URL. Call the result inside tests.
 */
export function redisForThisSpec(): () => TestRedis {
  let server: TestRedis | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('the spec redis-server is not started: use it inside tests');
    return server;
  };
}

/** A Redis Cluster (three masters, a replica each) started once for the spec that calls this, like redisForThisSpec. */
export function clusterForThisSpec(): () => TestRedisCluster {
  let cluster: TestRedisCluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });
  return () => {
    if (!cluster) throw new Error('the spec Redis Cluster is not started: use it inside tests');
    return cluster;
  };
}

/**
 * The adapters a contract spec runs every test against, as `describe.each`
 * rows: the in-memory one, and the Redis one on the spec's redis-server and
 * on the spec's Redis Cluster. Each test makes its own harness and closes it.
 */
export function contractAdapters<Args extends unknown[], Harness extends Closeable>(
  memory: (...args: Args) => Harness | Promise<Harness>,
  redis: (where: RedisWhere, ...args: Args) => Promise<Harness>,
  server: () => TestRedis = redisForThisSpec(),
  cluster: () => TestRedisCluster = clusterForThisSpec(),
): Array<[string, (...args: Args) => Promise<Harness>]> {
  return [
    ['memory', async (...args: Args) => memory(...args)],
    ['redis', (...args: Args) => redis(server().url, ...args)],
    ['redis cluster', (...args: Args) => redis(cluster().env(), ...args)],
  ];
}

/** Two gateway instances' view of one port: the same process-wide adapter in memory. */
export interface TwoInstances<T> extends Closeable {
  a: T;
  b: T;
}

/** The memory side of a two-instance contract: both instances share the one adapter. */
export function oneProcess<T>(adapter: T): TwoInstances<T> {
  return { a: adapter, b: adapter, close: async () => undefined };
}

/** The Redis side: an adapter for each of two connections to `where`, as on two instances. */
export async function twoInstances<T>(where: RedisWhere, make: (connection: RedisConnection) => T): Promise<TwoInstances<T>> {
  const [first, second] = await Promise.all([connectRedis(where), connectRedis(where)]);
  return {
    a: make(first),
    b: make(second),
    close: async () => {
      await Promise.all([first.close(), second.close()]);
    },
  };
}
