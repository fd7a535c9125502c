import { Injectable, Logger } from '@nestjs/common';
import Redis, { Result } from 'ioredis';
import { RedisConnection, viaRedis } from '../storage/redis-connection';
import { ALLOWED, RATE_WINDOW_MS, RateBucket, RateDecision, RateLimiter } from './rate-limiter';

/**
 * STRING: what the caller spent in its current window, expiring when the
 * window ends. The sub is URI-encoded so that braces in it cannot end the
 * hash tag early.
 */
const rateKey = (sub: string, bucket: RateBucket): string => `vora:rl:{${encodeURIComponent(sub)}}:${bucket}`;

/**
 * KEYS[1] = the counter; ARGV: cost, limit, windowMs → {1, 0} spent, or
 * {0, ms until the window ends} refused. Check and spend in one script, so
 * that concurrent requests on any number of instances cannot both take the
 * last unit, and a refused request spends nothing. PEXPIRE NX starts the
 * window at the first spend and never moves it.
 */
const TAKE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) <= tonumber(ARGV[2]) then
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3], 'NX')
  return {1, 0}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if ttl < 0 then ttl = tonumber(ARGV[3]) end
return {0, ttl}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    voraRateTake(key: string, cost: number, limit: number, windowMs: number): Result<[number, number], Context>;
  }
}

/**
 * One counter per caller and bucket in Redis, shared by every instance: a
 * caller spread over N instances by the load balancer gets the limit once,
 * not N times. While Redis cannot answer, every request is let through (fail
 * open) and the outage is logged once, not once per request.
 */
@Injectable()
export class RedisRateLimiter extends RateLimiter {
  private readonly log = new Logger('RateLimit');
  private readonly redis: Redis;
  private failing = false;

  constructor(connection: RedisConnection) {
    super();
    this.redis = connection.client;
    this.redis.defineCommand('voraRateTake', { numberOfKeys: 1, lua: TAKE });
  }

  async take(caller: string, bucket: RateBucket, cost: number, limit: number): Promise<RateDecision> {
    let result: [number, number];
    try {
      result = await viaRedis(() => this.redis.voraRateTake(rateKey(caller, bucket), cost, limit, RATE_WINDOW_MS));
    } catch (error) {
      if (!this.failing) this.log.warn(`rate limits are off until Redis answers again: ${(error as Error).message}`);
      this.failing = true;
      return ALLOWED;
    }
    if (this.failing) this.log.log('rate limits are enforced again');
    this.failing = false;
    const [allowed, retryAfterMs] = result;
    return allowed === 1 ? ALLOWED : { allowed: false, retryAfterMs: Number(retryAfterMs) };
  }
}
