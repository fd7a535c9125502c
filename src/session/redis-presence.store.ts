import { Injectable } from '@nestjs/common';
import { SocketHolder } from '../cluster/cluster-events';
import { execBatchValues, RedisConnection } from '../infra/redis/redis-connection';
import { PresenceStore } from './presence.store';

/**
 * STRING `<instance id> <connection id>`, PX a few heartbeats: where the
 * session's socket is held, cluster-wide. In the session's slot, beside its
 * event buffer.
 */
const presenceKey = (sessionId: string) => `vora:{s:${sessionId}}:presence`;
const valueOf = ({ instanceId, connectionId }: SocketHolder) => `${instanceId} ${connectionId}`;

function holderOf(value: string | null): SocketHolder | undefined {
  if (value === null) return undefined;
  const space = value.indexOf(' ');
  // Not written by this version (a bare connection id): no instance to deliver to.
  if (space <= 0) return undefined;
  return { instanceId: value.slice(0, space), connectionId: value.slice(space + 1) };
}

const FORGET_IF_MINE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

@Injectable()
export class RedisPresenceStore extends PresenceStore {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async connected(sessionId: string, holder: SocketHolder, ttlMs: number): Promise<void> {
    const key = presenceKey(sessionId);
    await this.redis.inTurn(key, (pipeline) => pipeline.set(key, valueOf(holder), 'PX', ttlMs));
  }

  /** Through the same pipeline as connected(), so that the two reach Redis in the order they were called. */
  async disconnected(sessionId: string, holder: SocketHolder): Promise<void> {
    const key = presenceKey(sessionId);
    await this.redis.inTurn(key, (pipeline) => pipeline.eval(FORGET_IF_MINE, 1, key, valueOf(holder)));
  }

  /** One GET per session, in one pipeline per node: the keys live in as many slots as there are sessions, so no MGET. */
  async holdersOf(sessionIds: readonly string[]): Promise<Array<SocketHolder | undefined>> {
    if (!sessionIds.length) return [];
    const batch = this.redis.batch();
    for (const id of sessionIds) batch.add(presenceKey(id), (pipeline) => pipeline.get(presenceKey(id)));
    const values = (await execBatchValues(batch)) as Array<[string | null]>;
    return values.map(([value]) => holderOf(value));
  }
}
