import { Injectable } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { PresenceStore } from './presence.store';

/** STRING connection id, PX a few heartbeats: which socket holds the session, cluster-wide. */
const presenceKey = (sessionId: string) => `vora:presence:${sessionId}`;

const FORGET_IF_MINE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

@Injectable()
export class RedisPresenceStore extends PresenceStore {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async connected(sessionId: string, connectionId: string, ttlMs: number): Promise<void> {
    await this.redis.inTurn((pipeline) => pipeline.set(presenceKey(sessionId), connectionId, 'PX', ttlMs));
  }

  /** Through the same pipeline as connected(), so that the two reach Redis in the order they were called. */
  async disconnected(sessionId: string, connectionId: string): Promise<void> {
    await this.redis.inTurn((pipeline) => pipeline.eval(FORGET_IF_MINE, 1, presenceKey(sessionId), connectionId));
  }

  async isConnected(sessionId: string): Promise<boolean> {
    return (await viaRedis(() => this.redis.client.exists(presenceKey(sessionId)))) === 1;
  }
}
