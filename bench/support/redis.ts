import { startRedis, TestRedis } from '../../test/support/redis-server';

/**
 * A redis-server of the benchmark's own, started by the tests' helper (free
 * port, no persistence, answering PING, killed when this process exits). An
 * external REDIS_URL would mix other traffic into the figures, so it is refused.
 */
export async function ownRedis(): Promise<TestRedis> {
  const redis = await startRedis();
  if (!redis.controllable) throw new Error('this benchmark needs redis-server on PATH (REDIS_URL is not used)');
  return redis;
}
