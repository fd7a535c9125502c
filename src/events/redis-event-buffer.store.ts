import { Injectable } from '@nestjs/common';
import Redis, { Result } from 'ioredis';
import { GatewayConfig } from '../config/gateway-config';
import { execPipeline, RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { FRAME_HEAD, frameOf } from './envelope';
import { AppendEntry, BufferedEvent, BufferSlice, Delivery, EventBufferStore } from './event-buffer.store';

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

/**
 * Helpers of every buffer script (KEYS: meta, frames). Lua 5.1 prints large
 * numbers in exponent form; ids must stay decimal. A meta field that is not
 * what the scripts write (tonumber would also take ' 7', '1e3' or 'nan') is
 * repaired or read as missing, and its name returned, rather than failing
 * every later call on the buffer.
 */
const PRELUDE = `
local function int(n) return string.format('%d', n) end
local function counter(v)
  if type(v) == 'string' and #v <= 15 and string.match(v, '^%d+$') then return tonumber(v) end
  return nil
end
-- The id of the newest frame kept (0 without frames): every other id follows from it.
local function newest_frame_id(head)
  local last = redis.call('LINDEX', KEYS[2], -1)
  if not last or string.sub(last, 1, #head) ~= head then return 0 end
  return counter(string.match(string.sub(last, #head + 1), '^(%d+)')) or 0
end
-- seq as stored, or, when it is not a counter, as the frames tell it; and whether it had to be.
local function seq_of(stored, head)
  if not stored then return 0, false end
  local seq = counter(stored)
  if seq then return seq, false end
  return newest_frame_id(head), true
end
`;

/** The name of the meta field a script found malformed, when its reply ends with one. */
const badField = (reply: readonly unknown[]): string | undefined => {
  const last = reply[reply.length - 1];
  return typeof last === 'string' ? last : undefined;
};

/**
 * KEYS: meta, frames; ARGV: head, capacity, ttlMs, n, tail × n, sourceId × n
 * ('' for none) → one id per entry, 0 for a stream entry the session already
 * took (`src` holds the newest entry id taken). Assigns consecutive ids,
 * stores frames head..id..tail and trims to capacity. `src` is read only for
 * stream entries, the list trimmed only when over capacity, and a key given
 * its TTL only when this call created it (touches keep it from then on):
 * every command here runs once per session and batch. A malformed `seq` is
 * found by HINCRBY failing, and rebuilt from the frames; a malformed `src` is
 * read as none. The name of the field repaired then ends the reply.
 */
const APPEND = `${PRELUDE}
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
local seen, read, bad = nil, false, nil
local kept = {}
for i = 1, n do
  local source = ARGV[4 + n + i]
  if source ~= '' and not read then
    seen, read = redis.call('HGET', KEYS[1], 'src'), true
    if seen and not string.match(seen, '^%d+%-%d+$') then seen, bad = nil, 'src' end
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
local last = redis.pcall('HINCRBY', KEYS[1], 'seq', #kept)
-- Not an integer (an error reply), or one below zero.
if type(last) ~= 'number' or last < #kept then
  last, bad = newest_frame_id(ARGV[1]) + #kept, 'seq'
  redis.call('HSET', KEYS[1], 'seq', int(last))
end
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
if bad then ids[#ids + 1] = bad end
return ids
`;

/**
 * KEYS: meta, frames; ARGV: afterId, head, limit (0: all) → {newestId,
 * oldestId, the oldest `limit` frames after afterId[, 'seq' when it was
 * malformed]}. Read-only: the next append repairs.
 */
const READ_AFTER = `${PRELUDE}
local newest, bad = seq_of(redis.call('HGET', KEYS[1], 'seq'), ARGV[2])
bad = bad and 'seq' or nil
local length = redis.call('LLEN', KEYS[2])
if length == 0 then return {newest, 0, {}, bad} end
local oldest = newest - length + 1
local from = math.max(tonumber(ARGV[1]) + 1, oldest)
if from > newest then return {newest, oldest, {}, bad} end
local limit = tonumber(ARGV[3])
local last = -1
if limit > 0 then last = from - oldest + limit - 1 end
return {newest, oldest, redis.call('LRANGE', KEYS[2], from - oldest, last), bad}
`;

/**
 * KEYS: meta; ARGV: id. Raises `written`, never lowers it; creates nothing (a
 * buffer that exists has `seq`). A malformed `written` is overwritten: 'written'.
 */
const MARK_WRITTEN = `${PRELUDE}
local meta = redis.call('HMGET', KEYS[1], 'seq', 'written')
if not meta[1] then return 0 end
local written = counter(meta[2])
if meta[2] and not written then
  redis.call('HSET', KEYS[1], 'written', ARGV[1])
  return 'written'
end
if tonumber(ARGV[1]) > (written or 0) then redis.call('HSET', KEYS[1], 'written', ARGV[1]) end
return 0
`;

/**
 * KEYS: meta, frames; ARGV: lastId, ttlMs, head → {1 when moved, 0 when not[,
 * 'seq' when it was malformed, and repaired]}. When the store lost the buffer
 * (or holds older ids), the next id becomes lastId + 1 and no frames are kept.
 */
const CONTINUE_FROM = `${PRELUDE}
local seq, bad = seq_of(redis.call('HGET', KEYS[1], 'seq'), ARGV[3])
bad = bad and 'seq' or nil
if seq >= tonumber(ARGV[1]) then
  if bad then redis.call('HSET', KEYS[1], 'seq', int(seq)) end
  return {0, bad}
end
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, bad}
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
    ): Result<Array<number | string>, Context>;
    voraBufferReadAfter(
      meta: string,
      frames: string,
      afterId: number,
      head: string,
      limit: number,
    ): Result<[number, number, string[], string?], Context>;
    voraBufferMarkWritten(meta: string, id: number): Result<number | string, Context>;
    voraBufferContinueFrom(
      meta: string,
      frames: string,
      lastId: number,
      ttlMs: number,
      head: string,
    ): Result<[number, string?], Context>;
  }
}

@Injectable()
export class RedisEventBufferStore extends EventBufferStore {
  private readonly client: Redis;
  private readonly capacity: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: RedisConnection,
    config: GatewayConfig,
  ) {
    super();
    this.client = redis.client;
    this.capacity = config.ws.eventBufferSize;
    this.ttlMs = config.session.idleTtlS * 1000;
    redis.loadScripts({
      voraBufferAppend: { keys: 2, lua: APPEND },
      voraBufferReadAfter: { keys: 2, lua: READ_AFTER, readOnly: true },
      voraBufferMarkWritten: { keys: 1, lua: MARK_WRITTEN },
      voraBufferContinueFrom: { keys: 2, lua: CONTINUE_FROM },
    });
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
    const pipeline = this.client.pipeline();
    for (const [sessionId, own] of bySession) {
      const tails = own.map((entry) => entry.tail);
      const sources = own.map((entry) => entry.sourceId ?? '');
      pipeline.voraBufferAppend(keys.meta(sessionId), keys.frames(sessionId), FRAME_HEAD, this.capacity, this.ttlMs, own.length, ...tails, ...sources);
    }
    const idsBySession = (await execPipeline(pipeline)) as Array<Array<number | string>>;

    // Each session's ids follow its entries in order; hand them back in the order of `entries`.
    const cursors = new Map<string, { ids: number[]; next: number }>();
    [...bySession.keys()].forEach((sessionId, i) => {
      const reply = idsBySession[i];
      this.reportRepair(sessionId, badField(reply));
      cursors.set(sessionId, { ids: reply.map(Number), next: 0 });
    });
    return entries.map(({ sessionId, tail }) => {
      const cursor = cursors.get(sessionId)!;
      const id = cursor.ids[cursor.next++];
      return id === 0 ? undefined : { sessionId, id, frame: frameOf(id, tail), acceptedAt };
    });
  }

  async readAfter(sessionId: string, afterId: number, limit = 0): Promise<BufferSlice> {
    const reply = await viaRedis(() =>
      this.client.voraBufferReadAfter(keys.meta(sessionId), keys.frames(sessionId), afterId, FRAME_HEAD, limit),
    );
    const [newestId, oldestId, frames] = reply;
    this.reportRepair(sessionId, badField(reply), 'read as the frames tell it');
    // The frames are consecutive from max(afterId + 1, oldestId).
    const firstId = Math.max(afterId + 1, Number(oldestId));
    const events: BufferedEvent[] = frames.map((frame, i) => ({ id: firstId + i, frame }));
    return { events, oldestId: Number(oldestId), newestId: Number(newestId) };
  }

  /** 0 when nothing was written, or when the marker is malformed (reported): the replay then starts at the oldest kept. */
  async lastWritten(sessionId: string): Promise<number> {
    const written = await viaRedis(() => this.client.hget(keys.meta(sessionId), 'written'));
    if (written === null) return 0;
    if (/^\d{1,15}$/.test(written)) return Number(written);
    this.redis.badValue('buffer-meta', keys.meta(sessionId), 'written is not an id; read as 0');
    return 0;
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async markWritten(sessionId: string, id: number): Promise<void> {
    const [reply] = await this.redis.inTurn((pipeline) => pipeline.voraBufferMarkWritten(keys.meta(sessionId), id));
    if (typeof reply === 'string') this.reportRepair(sessionId, reply);
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async touch(sessionId: string): Promise<void> {
    await this.redis.inTurn((pipeline) =>
      pipeline.pexpire(keys.meta(sessionId), this.ttlMs).pexpire(keys.frames(sessionId), this.ttlMs),
    );
  }

  async continueFrom(sessionId: string, lastId: number): Promise<void> {
    const reply = await viaRedis(() =>
      this.client.voraBufferContinueFrom(keys.meta(sessionId), keys.frames(sessionId), lastId, this.ttlMs, FRAME_HEAD),
    );
    this.reportRepair(sessionId, badField(reply));
  }

  async drop(sessionId: string): Promise<void> {
    // Both keys share the session's slot, so one DEL is Cluster-safe.
    await viaRedis(() => this.client.del(keys.meta(sessionId), keys.frames(sessionId)));
  }

  private reportRepair(sessionId: string, field: string | undefined, how = 'repaired'): void {
    if (field) this.redis.badValue('buffer-meta', keys.meta(sessionId), `${field} was malformed; ${how}`);
  }
}
