import { startRedis, TestRedis } from './redis-server';

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

/**
 * The two adapters a contract spec runs every test against, as `describe.each`
 * rows: the in-memory one, and the Redis one on the spec's redis-server.
 * Each test makes its own harness and closes it.
 */
export function contractAdapters<Args extends unknown[], Harness extends Closeable>(
  memory: (...args: Args) => Harness | Promise<Harness>,
  redis: (url: string, ...args: Args) => Promise<Harness>,
  server: () => TestRedis = redisForThisSpec(),
): Array<[string, (...args: Args) => Promise<Harness>]> {
  return [
    ['memory', async (...args: Args) => memory(...args)],
    ['redis', (...args: Args) => redis(server().url, ...args)],
  ];
}
