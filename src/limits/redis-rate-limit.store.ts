import { Injectable, Logger } from '@nestjs/common';
import { Result } from 'ioredis';
import { StoreUnavailableError } from '../common/store-unavailable';
import { keyPart, RedisClient, RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { ALLOWED, RATE_WINDOW_MS, RateBucket, RateDecision, RateLimitStore } from './rate-limit.store';

/**
 * STRING: what the caller spent in its current window, expiring when the
 * window ends. The sub is URI-encoded (keyPart) so that braces in it cannot
 * end the hash tag early.
 */
const rateKey = (sub: string, bucket: RateBucket): string => `vora:rl:{${keyPart(sub)}}:${bucket}`;

/**
 * KEYS[1] = the counter; ARGV: cost, limit, windowMs → {1, 0} spent, or
 * {0, ms until the window ends} refused, each followed by what was wrong with
 * the counter when it had to be reset. Check and spend in one script, so
 * that concurrent requests on any number of instances cannot both take the
 * last unit, and a refused request spends nothing. PEXPIRE NX starts the
 * window at the first spend and never moves it. A counter that is not one
 * (another type, or not a count: tonumber would also take '1e3' or 'nan')
 * starts again from zero, with this request counted: a broken key must not
 * turn the limit off.
 */
const TAKE = `
local stored = redis.pcall('GET', KEYS[1])
local used, problem = 0, nil
if type(stored) == 'table' then
  problem = 'the key holds another type; reset'
elseif stored then
  if string.match(stored, '^%d+$') and #stored <= 15 then used = tonumber(stored) else problem = 'not a count; reset' end
end
if problem then redis.call('DEL', KEYS[1]) end
if used + tonumber(ARGV[1]) <= tonumber(ARGV[2]) then
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3], 'NX')
  return {1, 0, problem}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if ttl < 0 then ttl = tonumber(ARGV[3]) end
return {0, ttl, problem}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    voraRateTake(key: string, cost: number, limit: number, windowMs: number): Result<[number, number, string?], Context>;
  }
}

/**
 * One counter per caller and bucket in Redis, shared by every instance: a
 * caller spread over N instances by the load balancer gets the limit once,
 * not N times. While Redis cannot be reached, every request is let through
 * (fail open) and the outage is logged once, not once per request; any other
 * failure is a bug and fails the request, never the limit.
 */
@Injectable()
export class RedisRateLimitStore extends RateLimitStore {
  private readonly log = new Logger('RateLimit');
  private readonly client: RedisClient;
  private failing = false;

  constructor(private readonly redis: RedisConnection) {
    super();
    this.client = redis.client;
    redis.loadScripts({ voraRateTake: { keys: 1, lua: TAKE } });
  }

  async take(caller: string, bucket: RateBucket, cost: number, limit: number): Promise<RateDecision> {
    const key = rateKey(caller, bucket);
    let result: [number, number, string?];
    try {
      result = await viaRedis(() => this.client.voraRateTake(key, cost, limit, RATE_WINDOW_MS));
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      if (!this.failing) this.log.warn(`rate limits are off until Redis answers again: ${error.message}`);
      this.failing = true;
      return ALLOWED;
    }
    if (this.failing) this.log.log('rate limits are enforced again');
    this.failing = false;
    const [allowed, retryAfterMs, problem] = result;
    if (problem) this.redis.badValue('rate-limit-counter', key, problem);
    return allowed === 1 ? ALLOWED : { allowed: false, retryAfterMs: Number(retryAfterMs) };
  }
}
