import { Injectable } from '@nestjs/common';
import { Result } from 'ioredis';
import { GatewayConfig } from '../config/gateway-config';
import { execBatch, RedisClient, RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { frameOf } from './envelope';
import { AppendEntry, AppendOptions, BufferedEvent, BufferSlice, Delivery, EventBufferStore } from './event-buffer.store';

/**
 * One session's buffer is two keys in the slot `{s:<sessionId>}`: a STREAM of
 * its newest events, whose entry ids are `0-<event id>` (Redis numbers them:
 * `XADD … 0-*`), each entry `t <tail>` and, for an event from the ingress
 * stream, `s <entry id>`; and a HASH `meta` with `written`, the newest id
 * written to a socket. The stream exists from the session's setup on
 * (`open`): an append made with NOMKSTREAM then finds no buffer for a session
 * that ended, and buffers nothing for it.
 *
 * An append is one XADD per event, not a script: Redis runs one command for
 * it, where a script runs its own call and every call inside it.
 */
const keys = {
  events: (sessionId: string) => `vora:{s:${sessionId}}:events`,
  meta: (sessionId: string) => `vora:{s:${sessionId}}:meta`,
};

/**
 * An empty stream KEYS[1] whose next id is 0-<lastId + 1>: an entry added and
 * deleted makes the stream, XSETID takes its id back.
 */
const CREATE = `
local function create(last_id, ttl_ms)
  local placeholder = '0-' .. string.format('%d', last_id + 1)
  redis.call('XADD', KEYS[1], placeholder, 'o', '1')
  redis.call('XDEL', KEYS[1], placeholder)
  redis.call('XSETID', KEYS[1], '0-' .. string.format('%d', last_id))
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end
`;

/** KEYS: events, meta; ARGV: ttlMs → 1. The meta hash is created by the first `written`. */
const OPEN = `${CREATE}
redis.call('DEL', KEYS[1], KEYS[2])
create(0, ARGV[1])
return 1`;

/**
 * KEYS: events; ARGV: sourceId, tail, capacity → the new entry's id, '' when
 * the session already took the ingress entry, or false without a buffer. For
 * events routed again (a crashed reader's batch, claimed): the newest entry
 * that came from the ingress stream tells what the session took last.
 */
const APPEND_ONCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function newer(a, b)
  local am, as = parts(a)
  local bm, bs = parts(b)
  return am > bm or (am == bm and as > bs)
end
local before = '+'
while true do
  local page = redis.call('XREVRANGE', KEYS[1], before, '-', 'COUNT', 100)
  if #page == 0 then break end
  for _, entry in ipairs(page) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 's' then
        if not newer(ARGV[1], fields[i + 1]) then return '' end
        return redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '0-*', 't', ARGV[2], 's', ARGV[1])
      end
    end
  end
  if #page < 100 then break end
  before = '(' .. page[#page][1]
end
return redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '0-*', 't', ARGV[2], 's', ARGV[1])`;

/**
 * KEYS: events; ARGV: afterId, limit (0: all) → {newestId, oldestId, [id,
 * fields] × n[, the key's type when it is not a stream]}: the newest id ever
 * assigned, the oldest kept (0 when none), and the oldest `limit` entries
 * after afterId.
 */
const READ_AFTER = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return {0, 0, {}} end
if kind ~= 'stream' then return {0, 0, {}, kind} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, first
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
  if info[i] == 'first-entry' then first = info[i + 1] end
end
local newest = tonumber(string.match(last, '%-(%d+)$'))
if not first then return {newest, 0, {}} end
local oldest = tonumber(string.match(first[1], '%-(%d+)$'))
local entries
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])
else
  entries = redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+')
end
return {newest, oldest, entries}`;

/**
 * KEYS: events, meta; ARGV: id. Raises `written`, never lowers it; creates
 * nothing for a session without a buffer. A malformed `written` is
 * overwritten: 'written'.
 */
const MARK_WRITTEN = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local stored = redis.call('HGET', KEYS[2], 'written')
local written = nil
if stored and #stored <= 15 and string.match(stored, '^%d+$') then written = tonumber(stored) end
-- The hash lives as long as the stream; a stream without a TTL (never, unless written by hand) lends none.
local function expire_with_stream()
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
if stored and not written then
  redis.call('HSET', KEYS[2], 'written', ARGV[1])
  expire_with_stream()
  return 'written'
end
if tonumber(ARGV[1]) > (written or 0) then
  redis.call('HSET', KEYS[2], 'written', ARGV[1])
  if not stored then expire_with_stream() end
end
return 0`;

/**
 * KEYS: events; ARGV: lastId, ttlMs → 1 when moved, 0 when not. When the
 * store lost the buffer (or holds older ids, or something that is not a
 * buffer), the next id becomes lastId + 1 and no events are kept.
 */
const CONTINUE_FROM = `${CREATE}
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and kind ~= 'stream' then redis.call('DEL', KEYS[1]) end
if kind == 'stream' then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      if tonumber(string.match(info[i + 1], '%-(%d+)$')) >= tonumber(ARGV[1]) then return 0 end
    end
  end
  redis.call('DEL', KEYS[1])
end
create(tonumber(ARGV[1]), ARGV[2])
return 1`;

type StreamEntry = [id: string, fields: string[]];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    voraBufferOpen(events: string, meta: string, ttlMs: number): Result<number, Context>;
    voraBufferAppendOnce(events: string, sourceId: string, tail: string, capacity: number): Result<string | null, Context>;
    voraBufferReadAfter(events: string, afterId: number, limit: number): Result<[number, number, StreamEntry[], string?], Context>;
    voraBufferMarkWritten(events: string, meta: string, id: number): Result<number | string, Context>;
    voraBufferContinueFrom(events: string, lastId: number, ttlMs: number): Result<number, Context>;
  }
}

/** The event id of a buffer entry id `0-<id>`. */
const idOf = (entryId: string): number => Number(entryId.slice(entryId.indexOf('-') + 1));

const tailOf = (fields: readonly string[]): string | undefined => {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 't') return fields[i + 1];
  return undefined;
};

@Injectable()
export class RedisEventBufferStore extends EventBufferStore {
  private readonly client: RedisClient;
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
      voraBufferOpen: { keys: 2, lua: OPEN },
      voraBufferAppendOnce: { keys: 1, lua: APPEND_ONCE },
      voraBufferReadAfter: { keys: 1, lua: READ_AFTER, readOnly: true },
      voraBufferMarkWritten: { keys: 2, lua: MARK_WRITTEN },
      voraBufferContinueFrom: { keys: 1, lua: CONTINUE_FROM },
    });
  }

  async open(sessionId: string): Promise<void> {
    await viaRedis(() => this.client.voraBufferOpen(keys.events(sessionId), keys.meta(sessionId), this.ttlMs));
  }

  /**
   * One round trip: one XADD per entry, pipelined in the order of the
   * entries (one pipeline per node on a Cluster), so a session's entries
   * get consecutive ids. Routed again, an
   * ingress entry goes through a script that first checks the session did not
   * take it already.
   */
  async append(entries: readonly AppendEntry[], options: AppendOptions = {}): Promise<Array<Delivery | undefined>> {
    if (!entries.length) return [];
    const { acceptedAt, retried = false } = options;
    const batch = this.redis.batch();
    for (const { sessionId, tail, sourceId } of entries) {
      const stream = keys.events(sessionId);
      batch.add(stream, (pipeline) => {
        if (sourceId === undefined) pipeline.xadd(stream, 'NOMKSTREAM', 'MAXLEN', this.capacity, '0-*', 't', tail);
        else if (!retried) pipeline.xadd(stream, 'NOMKSTREAM', 'MAXLEN', this.capacity, '0-*', 't', tail, 's', sourceId);
        else pipeline.voraBufferAppendOnce(stream, sourceId, tail, this.capacity);
      });
    }
    const replies = await execBatch(batch);
    return entries.map(({ sessionId, tail }, i) => {
      const [[error, entryId]] = replies[i];
      // Something else where the buffer should be (WRONGTYPE): nothing can be buffered there.
      if (error) this.redis.badValue('buffer', keys.events(sessionId), `the append failed: ${error.message}`);
      // Or no buffer (its session ended between routing and the append), or the entry was taken already.
      if (error || typeof entryId !== 'string' || entryId === '') return undefined;
      const id = idOf(entryId);
      return { sessionId, id, frame: frameOf(id, tail), acceptedAt };
    });
  }

  async readAfter(sessionId: string, afterId: number, limit = 0): Promise<BufferSlice> {
    const [newestId, oldestId, entries, wrongType] = await viaRedis(() =>
      this.client.voraBufferReadAfter(keys.events(sessionId), afterId, limit),
    );
    if (wrongType) this.redis.badValue('buffer', keys.events(sessionId), `a ${wrongType}, not a stream; read as empty`);
    const events: BufferedEvent[] = [];
    for (const [entryId, fields] of entries) {
      const id = idOf(entryId);
      const tail = tailOf(fields);
      // Not written by the gateway: left out, the client sees a hole it cannot fill, as with an event dropped from the buffer.
      if (tail === undefined) this.redis.badValue('buffer', keys.events(sessionId), `entry ${entryId} has no tail; left out`);
      else events.push({ id, frame: frameOf(id, tail) });
    }
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
    const [reply] = await this.redis.inTurn(keys.events(sessionId), (pipeline) => pipeline.voraBufferMarkWritten(keys.events(sessionId), keys.meta(sessionId), id));
    if (typeof reply === 'string') this.redis.badValue('buffer-meta', keys.meta(sessionId), `${reply} was malformed; repaired`);
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async touch(sessionId: string): Promise<void> {
    await this.redis.inTurn(keys.events(sessionId), (pipeline) => pipeline.pexpire(keys.events(sessionId), this.ttlMs).pexpire(keys.meta(sessionId), this.ttlMs));
  }

  async continueFrom(sessionId: string, lastId: number): Promise<void> {
    await viaRedis(() => this.client.voraBufferContinueFrom(keys.events(sessionId), lastId, this.ttlMs));
  }

  async drop(sessionId: string): Promise<void> {
    // Both keys share the session's slot, so one DEL is Cluster-safe.
    await viaRedis(() => this.client.del(keys.events(sessionId), keys.meta(sessionId)));
  }
}
