import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Result } from 'ioredis';
import { RedisConnection } from '../infra/redis/redis-connection';
import { Instances, newInstanceId } from './instances';

/** A sorted set: each instance scored by the Redis time (ms) its entry expires at. */
export const INSTANCES_KEY = 'vora:instances';
export const BEAT_MS = 1_000;
/** Three beats and a half: one lost beat (a busy loop, a slow Redis) does not make an instance dead. */
export const INSTANCE_TTL_MS = 3_500;

/**
 * Refreshes this instance, drops the expired ones and answers who is alive,
 * in one command; Redis's clock, so instances' clocks need not agree. Also
 * answers 1 when this instance's own entry had lapsed (gone, or expired):
 * the others may have counted it dead.
 */
const BEAT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
local lapsed = (not before or tonumber(before) <= ms) and 1 or 0
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
return {lapsed, redis.call('ZRANGE', KEYS[1], 0, -1)}`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    voraInstancesBeat(key: string, instanceId: string, ttlMs: number): Result<[number, string[]], Context>;
  }
}

/** One command per instance per second, whatever the number of sockets. */
@Injectable()
export class RedisInstances extends Instances implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Instances');
  readonly self = newInstanceId();
  private live = new Set<string>([this.self]);
  private timer?: NodeJS.Timeout;
  private readonly rejoined: Array<() => void> = [];
  private beaten = false;
  /** The entry had lapsed: the others count this instance alive again once each has beaten since. */
  private rejoining = false;

  constructor(private readonly redis: RedisConnection) {
    super();
    redis.loadScripts({ voraInstancesBeat: { keys: 1, lua: BEAT } });
  }

  /** In the registry before the gateway listens: the others count this instance alive before it takes a socket. */
  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), BEAT_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    // Gone at once for the others, rather than after the TTL.
    await this.redis.client.zrem(INSTANCES_KEY, this.self).catch(() => undefined);
  }

  count(): number {
    return this.live.size;
  }

  isAlive(instanceId: string): boolean {
    return this.live.has(instanceId);
  }

  alive(): readonly string[] {
    return [...this.live];
  }

  /** Until the next beat, which finds it in the registry: an instance beats before it takes sockets. */
  heardFrom(instanceId: string): void {
    this.live.add(instanceId);
  }

  onRejoined(listener: () => void): void {
    this.rejoined.push(listener);
  }

  /** Public for tests that must not wait for the next beat. */
  async beat(): Promise<void> {
    try {
      const [lapsed, members] = await this.redis.client.voraInstancesBeat(INSTANCES_KEY, this.self, INSTANCE_TTL_MS);
      const live = new Set(members);
      live.add(this.self);
      this.live = live;
      // Every other instance beats (and reads the registry) within a beat: by the next one, all count this one alive.
      if (this.rejoining) {
        this.rejoining = false;
        this.logger.log('back in the registry of instances; sockets read what was kept for them meanwhile');
        for (const listener of this.rejoined) listener();
      }
      if (lapsed === 1 && this.beaten) this.rejoining = true;
      this.beaten = true;
    } catch (error) {
      // Redis away: keep the last view; readiness reports the store.
      this.logger.debug(`beat failed: ${(error as Error).message}`);
    }
  }
}
