import { Injectable } from '@nestjs/common';
import Redis, { Result } from 'ioredis';
import { GatewayConfig } from '../config/gateway-config';
import { execPipeline, RedisConnection, viaRedis } from '../storage/redis-connection';
import { FRAME_HEAD, frameOf } from './envelope';
import { AppendEntry, BufferedEvent, BufferSlice, Delivery, EventBuffer } from './event-buffer';

/**
 * One session's buffer is two keys in the slot `{s:<sessionId>}`: a HASH with
 * `seq` (the newest id ever assigned) and `written` (the newest id written to
 * a socket), and a LIST of the newest frames, oldest first. The list holds
 * consecutive ids, so the id of any element follows from `seq` and its length.
 */
const keys = {
  meta: (sessionId: string) => `vora:{s:${sessionId}}:meta`,
  frames: (sessionId: string) => `vora:{s:${sessionId}}:frames`,
};

/** Lua 5.1 prints large numbers in exponent form; ids must stay decimal. */
const NUMBER = `local function int(n) return string.format('%d', n) end`;

/**
 * KEYS: meta, frames; ARGV: head, capacity, ttlMs, n, tail × n, sourceId × n
 * ('' for none) → one id per entry, 0 for a stream entry the session already
 * took (`src` holds the newest entry id taken). Assigns consecutive ids,
 * stores frames head..id..tail and trims to capacity. `src` is read only for
 * stream entries, the list trimmed only when over capacity, and a key given
 * its TTL only when this call created it (touches keep it from then on):
 * every command here runs once per session and batch.
 */
const APPEND = `${NUMBER}
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function newer(a, b)
  local am, as = parts(a)
  local bm, bs = parts(b)
  return am > bm or (am == bm and as > bs)
end
local capacity = tonumber(ARGV[2])
local n = tonumber(ARGV[4])
local seen, read = nil, false
local kept = {}
for i = 1, n do
  local source = ARGV[4 + n + i]
  if source ~= '' and not read then
    seen, read = redis.call('HGET', KEYS[1], 'src'), true
  end
  if source == '' then
    kept[#kept + 1] = i
  elseif not seen or newer(source, seen) then
    kept[#kept + 1] = i
    seen = source
  end
end
local ids = {}
for i = 1, n do ids[i] = 0 end
if #kept == 0 then return ids end
local last = redis.call('HINCRBY', KEYS[1], 'seq', #kept)
local first = last - #kept + 1
if seen then redis.call('HSET', KEYS[1], 'src', seen) end
local frames = {}
local length = 0
-- How long the list was before this call (nil until the first push tells).
local before = nil
local function push()
  length = redis.call('RPUSH', KEYS[2], unpack(frames))
  before = before or length - #frames
  frames = {}
end
for k = 1, #kept do
  ids[kept[k]] = first + k - 1
  -- Frames beyond capacity would be trimmed at once; their ids are still spent.
  if k > #kept - capacity then
    frames[#frames + 1] = ARGV[1] .. int(first + k - 1) .. ARGV[4 + kept[k]]
    if #frames == 1000 then push() end
  end
end
if #frames > 0 then push() end
if length > capacity then redis.call('LTRIM', KEYS[2], -capacity, -1) end
if last == #kept then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if before == 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return ids
`;

/** KEYS: meta, frames; ARGV: afterId, limit (0: all) → {newestId, oldestId, the oldest `limit` frames after afterId}. */
const READ_AFTER = `
local newest = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local length = redis.call('LLEN', KEYS[2])
if length == 0 then return {newest, 0, {}} end
local oldest = newest - length + 1
local from = math.max(tonumber(ARGV[1]) + 1, oldest)
if from > newest then return {newest, oldest, {}} end
local limit = tonumber(ARGV[2])
local last = -1
if limit > 0 then last = from - oldest + limit - 1 end
return {newest, oldest, redis.call('LRANGE', KEYS[2], from - oldest, last)}
`;

/** KEYS: meta; ARGV: id. Raises `written`, never lowers it; creates nothing (a buffer that exists has `seq`). */
const MARK_WRITTEN = `
local meta = redis.call('HMGET', KEYS[1], 'seq', 'written')
if not meta[1] then return 0 end
if tonumber(ARGV[1]) > tonumber(meta[2] or '0') then redis.call('HSET', KEYS[1], 'written', ARGV[1]) end
return 0
`;

/**
 * KEYS: meta, frames; ARGV: lastId, ttlMs. When the store lost the buffer (or
 * holds older ids), the next id becomes lastId + 1 and no frames are kept.
 */
const CONTINUE_FROM = `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    voraBufferAppend(
      meta: string,
      frames: string,
      head: string,
      capacity: number,
      ttlMs: number,
      count: number,
      ...tailsThenSources: string[]
    ): Result<number[], Context>;
    voraBufferReadAfter(meta: string, frames: string, afterId: number, limit: number): Result<[number, number, string[]], Context>;
    voraBufferMarkWritten(meta: string, id: number): Result<number, Context>;
    voraBufferContinueFrom(meta: string, frames: string, lastId: number, ttlMs: number): Result<number, Context>;
  }
}

@Injectable()
export class RedisEventBuffer extends EventBuffer {
  private readonly redis: Redis;
  private readonly capacity: number;
  private readonly ttlMs: number;

  constructor(
    private readonly connection: RedisConnection,
    config: GatewayConfig,
  ) {
    super();
    this.redis = connection.client;
    this.capacity = config.ws.eventBufferSize;
    this.ttlMs = config.session.idleTtlS * 1000;
    this.redis.defineCommand('voraBufferAppend', { numberOfKeys: 2, lua: APPEND });
    this.redis.defineCommand('voraBufferReadAfter', { numberOfKeys: 2, lua: READ_AFTER, readOnly: true });
    this.redis.defineCommand('voraBufferMarkWritten', { numberOfKeys: 1, lua: MARK_WRITTEN });
    this.redis.defineCommand('voraBufferContinueFrom', { numberOfKeys: 2, lua: CONTINUE_FROM });
  }

  /** One round trip: one script call per session in the batch, pipelined. */
  async append(entries: readonly AppendEntry[], acceptedAt?: number): Promise<Array<Delivery | undefined>> {
    if (!entries.length) return [];
    const bySession = new Map<string, AppendEntry[]>();
    for (const entry of entries) {
      const own = bySession.get(entry.sessionId);
      if (own) own.push(entry);
      else bySession.set(entry.sessionId, [entry]);
    }
    const pipeline = this.redis.pipeline();
    for (const [sessionId, own] of bySession) {
      const tails = own.map((entry) => entry.tail);
      const sources = own.map((entry) => entry.sourceId ?? '');
      pipeline.voraBufferAppend(keys.meta(sessionId), keys.frames(sessionId), FRAME_HEAD, this.capacity, this.ttlMs, own.length, ...tails, ...sources);
    }
    const idsBySession = (await execPipeline(pipeline)) as number[][];

    // Each session's ids follow its entries in order; hand them back in the order of `entries`.
    const cursors = new Map<string, { ids: number[]; next: number }>();
    [...bySession.keys()].forEach((sessionId, i) => cursors.set(sessionId, { ids: idsBySession[i].map(Number), next: 0 }));
    return entries.map(({ sessionId, tail }) => {
      const cursor = cursors.get(sessionId)!;
      const id = cursor.ids[cursor.next++];
      return id === 0 ? undefined : { sessionId, id, frame: frameOf(id, tail), acceptedAt };
    });
  }

  async readAfter(sessionId: string, afterId: number, limit = 0): Promise<BufferSlice> {
    const [newestId, oldestId, frames] = await viaRedis(() =>
      this.redis.voraBufferReadAfter(keys.meta(sessionId), keys.frames(sessionId), afterId, limit),
    );
    // The frames are consecutive from max(afterId + 1, oldestId).
    const firstId = Math.max(afterId + 1, Number(oldestId));
    const events: BufferedEvent[] = frames.map((frame, i) => ({ id: firstId + i, frame }));
    return { events, oldestId: Number(oldestId), newestId: Number(newestId) };
  }

  async lastWritten(sessionId: string): Promise<number> {
    const written = await viaRedis(() => this.redis.hget(keys.meta(sessionId), 'written'));
    return written === null ? 0 : Number(written);
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async markWritten(sessionId: string, id: number): Promise<void> {
    await this.connection.inTurn((pipeline) => pipeline.voraBufferMarkWritten(keys.meta(sessionId), id));
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async touch(sessionId: string): Promise<void> {
    await this.connection.inTurn((pipeline) =>
      pipeline.pexpire(keys.meta(sessionId), this.ttlMs).pexpire(keys.frames(sessionId), this.ttlMs),
    );
  }

  async continueFrom(sessionId: string, lastId: number): Promise<void> {
    await viaRedis(() =>
      this.redis.voraBufferContinueFrom(keys.meta(sessionId), keys.frames(sessionId), lastId, this.ttlMs),
    );
  }

  async drop(sessionId: string): Promise<void> {
    // Both keys share the session's slot, so one DEL is Cluster-safe.
    await viaRedis(() => this.redis.del(keys.meta(sessionId), keys.frames(sessionId)));
  }
}
