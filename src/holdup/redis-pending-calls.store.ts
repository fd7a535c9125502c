import { Injectable } from '@nestjs/common';
import { execBatch, execBatchValues, RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { isNonEmptyString, isString, isStringArray, isTime, isWrongType, Malformed, readJsonRecord } from '../infra/redis/stored-value';
import { PendingCall } from './holdup';
import { PendingCallStore } from './pending-calls.store';

/** A pending call outlives its deadline by this much, so the sweep can still settle it. */
const KEEP_AFTER_DEADLINE_MS = 60_000;

const keys = {
  /** STRING call JSON; GETDEL makes settling atomic: one instance gets it. */
  call: (callId: string) => `vora:call:${callId}`,
  /** ZSET callId → deadline (ms): what the deadline sweep reads. */
  due: 'vora:calls:due',
  /** SET of callIds that woke a session. */
  session: (sessionId: string) => `vora:calls:session:${sessionId}`,
};

const PENDING_CALL_SHAPE = {
  callId: isNonEmptyString,
  identity: isString,
  sessionIds: isStringArray,
  startedAt: isTime,
  deadline: isTime,
};

/** A call whose record is missing or malformed (reported) is not pending. */
@Injectable()
export class RedisPendingCallStore extends PendingCallStore {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async begin(call: PendingCall): Promise<boolean> {
    const ttlMs = Math.max(1, call.deadline - Date.now()) + KEEP_AFTER_DEADLINE_MS;
    const created = await viaRedis(() => this.redis.client.set(keys.call(call.callId), JSON.stringify(call), 'PX', ttlMs, 'NX'));
    if (created !== 'OK') return false;
    const batch = this.redis.batch();
    batch.add(keys.due, (pipeline) => pipeline.zadd(keys.due, call.deadline, call.callId));
    for (const sessionId of call.sessionIds) {
      const key = keys.session(sessionId);
      batch.add(key, (pipeline) => pipeline.sadd(key, call.callId).pexpire(key, ttlMs));
    }
    await execBatchValues(batch);
    return true;
  }

  async get(callId: string): Promise<PendingCall | undefined> {
    return this.read(callId, () => this.redis.client.get(keys.call(callId)));
  }

  async settle(callId: string): Promise<PendingCall | undefined> {
    const call = await this.read(callId, () => this.redis.client.getdel(keys.call(callId)));
    const batch = this.redis.batch();
    batch.add(keys.due, (pipeline) => pipeline.zrem(keys.due, callId));
    for (const sessionId of call?.sessionIds ?? []) batch.add(keys.session(sessionId), (pipeline) => pipeline.srem(keys.session(sessionId), callId));
    await execBatchValues(batch);
    return call;
  }

  async pendingFor(sessionId: string): Promise<PendingCall[]> {
    const callIds = await viaRedis(() => this.redis.client.smembers(keys.session(sessionId)));
    return this.load(callIds);
  }

  async due(now: number): Promise<PendingCall[]> {
    const callIds = await viaRedis(() => this.redis.client.zrangebyscore(keys.due, '-inf', now));
    const calls = await this.load(callIds);
    // A call whose record expired cannot be settled any more; stop sweeping it.
    const gone = callIds.filter((id) => !calls.some((call) => call.callId === id));
    if (gone.length) await viaRedis(() => this.redis.client.zrem(keys.due, ...gone));
    return calls;
  }

  private async load(callIds: string[]): Promise<PendingCall[]> {
    if (!callIds.length) return [];
    const batch = this.redis.batch();
    for (const id of callIds) batch.add(keys.call(id), (pipeline) => pipeline.get(keys.call(id)));
    const replies = await execBatch(batch);
    const calls: PendingCall[] = [];
    replies.forEach(([[error, value]], i) => {
      const call = this.checked(callIds[i], error, value as string | null);
      if (call) calls.push(call);
    });
    return calls;
  }

  private async read(callId: string, command: () => Promise<string | null>): Promise<PendingCall | undefined> {
    try {
      return this.checked(callId, null, await viaRedis(command));
    } catch (error) {
      return this.checked(callId, error as Error, null);
    }
  }

  /** The call a reply holds, undefined when none or when it is malformed (reported); other errors are thrown. */
  private checked(callId: string, error: Error | null, value: string | null): PendingCall | undefined {
    if (error) {
      if (!isWrongType(error)) throw error;
      return this.bad(callId, 'the key holds another type');
    }
    if (value === null) return undefined;
    const call = readJsonRecord<PendingCall>(value, PENDING_CALL_SHAPE);
    return call instanceof Malformed ? this.bad(callId, call.problem) : call;
  }

  private bad(callId: string, problem: string): undefined {
    this.redis.badValue('pending-call', keys.call(callId), problem);
    return undefined;
  }
}
