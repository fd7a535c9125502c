import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Result } from 'ioredis';
import { CLIENT_MODES } from '../auth/modes';
import { NodeBatch } from '../infra/redis/node-batch';
import {
  execBatch,
  execBatchValues,
  execPipeline,
  isWellFormed,
  RedisClient,
  RedisConnection,
  userKey,
  viaRedis,
} from '../infra/redis/redis-connection';
import {
  isBoolean,
  isNonEmptyString,
  isString,
  isWrongType,
  Malformed,
  oneOf,
  readJsonRecord,
  StoredRecord,
} from '../infra/redis/stored-value';
import { CONNECTION_TYPES, lifetimeEnd, Session } from './session';
import { OpenResult, SessionStore } from './session.store';

/**
 * Pointers outlive the session they lead to by this much, so a touch at the
 * very edge of the TTL never finds the pointer gone while the session is
 * still there. A pointer alone opens nothing: every lookup checks the session.
 */
const POINTER_GRACE_MS = 5_000;

/** See docs/scaling.md for the whole layout. */
const keys = {
  /** HASH session id → session JSON (the source of truth). */
  sessions: (sub: string) => userKey(sub, 'sessions'),
  /** ZSET session id → expiry (ms, Redis clock). */
  expiry: (sub: string) => userKey(sub, 'expiry'),
  /** STRING → sub: which user slot holds the session. */
  id: (id: string) => `vora:sid:${id}`,
  /** STRING → {"sub","id"}: the session a webSocketToken hash opens. */
  token: (tokenHash: string) => `vora:tok:${tokenHash}`,
  /** The token key as logs show it: a prefix of the hash is enough to find it. */
  tokenForLog: (tokenHash: string) => `vora:tok:${tokenHash.slice(0, 8)}…`,
  /** ZSET sub → expiry: the users that may hold sessions of this identity. */
  identity: (identity: string) => `vora:idn:${identity}`,
};

/** STRING, no TTL: see epoch(). */
const EPOCH_KEY = 'vora:epoch';

interface TokenRef {
  readonly sub: string;
  readonly id: string;
}

const SESSION_SHAPE = {
  id: isNonEmptyString,
  sub: isString,
  mode: oneOf(CLIENT_MODES),
  identity: isString,
  connectionType: oneOf(CONNECTION_TYPES),
  holdUpMode: isBoolean,
  tokenHash: isNonEmptyString,
  createdAt: isString,
  expiresAt: isString,
};
const TOKEN_REF_SHAPE = { sub: isString, id: isNonEmptyString };

/**
 * A sub as the pointers hold it. ioredis sends strings as UTF-8, which turns a
 * lone surrogate into U+FFFD: such a sub (and, to tell them apart, one that
 * starts with a quote) is stored as JSON text, which escapes it, so that the
 * pointer leads back to its own user's slot. Every other sub is stored as is.
 */
const storedSub = (sub: string): string => (isWellFormed(sub) && !sub.startsWith('"') ? sub : JSON.stringify(sub));

function readSub(stored: string): string | Malformed {
  if (!stored.startsWith('"')) return stored === '' ? new Malformed('empty') : stored;
  try {
    const sub: unknown = JSON.parse(stored);
    if (typeof sub === 'string') return sub;
  } catch {
    // Reported below.
  }
  return new Malformed('not a sub');
}

// KEYS[1] = sessions hash, KEYS[2] = expiry zset of one user. Time is Redis's,
// so that instances with skewed clocks agree on what has expired.
const USER_PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n) return string.format('%d', n) end
-- ttl from now, but never past the session's lifetime (epoch ms, Redis clock).
local function expiry(now, ttl, lifetime_end) return math.min(now + tonumber(ttl), tonumber(lifetime_end)) end
local function prune(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms(now))
  for _, id in ipairs(expired) do redis.call('HDEL', KEYS[1], id) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms(now))
end
local function keep(now)
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', KEYS[1], KEYS[2])
    return
  end
  local ttl = ms(tonumber(last[2]) - now)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
`;

/**
 * The identity and connection type of a stored session, or nil when the record
 * is unreadable. JSON.stringify writes a lone surrogate as \udXXX, which cjson
 * refuses: such a record is read with them replaced, as only these two
 * fields (never holding one) are needed.
 */
const DECODE = `
local function decode(json)
  local ok, s = pcall(cjson.decode, json)
  if not ok then ok, s = pcall(cjson.decode, (string.gsub(json, '\\\\u[dD][89a-fA-F]%x%x', '\\\\ufffd'))) end
  if ok and type(s) == 'table' and type(s.identity) == 'string' and type(s.connectionType) == 'string' then return s end
  return nil
end
`;

/**
 * ARGV: id, json, identity, connectionType, ttlMs, maxPerUser, lifetimeEndMs →
 * {1, replaced json or nil, unreadable} or {0, live, unreadable}. Unreadable records (not
 * a session a gateway wrote) are removed, as if missing, and counted.
 */
const OPEN = `${USER_PRELUDE}${DECODE}
local now = now_ms()
prune(now)
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
local replacedId, replaced
local live, unreadable = 0, 0
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[1], id)
  local s = json and decode(json)
  if json and not s then
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    unreadable = unreadable + 1
  else
    live = live + 1
    if s and s.identity == ARGV[3] and s.connectionType == ARGV[4] then
      replacedId, replaced = id, json
    end
  end
end
if replacedId then live = live - 1 end
if live >= tonumber(ARGV[6]) then
  keep(now)
  return {0, live, unreadable}
end
if replacedId then
  redis.call('HDEL', KEYS[1], replacedId)
  redis.call('ZREM', KEYS[2], replacedId)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ms(expiry(now, ARGV[5], ARGV[7])), ARGV[1])
prune(now)
keep(now)
return {1, replaced or false, unreadable}
`;

/** ARGV: id → json of the live session, or nil. */
const GET = `${USER_PRELUDE}
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) <= now_ms() then return nil end
return redis.call('HGET', KEYS[1], ARGV[1])
`;

/** ARGV: [now (ms, Redis clock) when the caller read it already] → json of every live session of the user. */
const LIST = `${USER_PRELUDE}
local now = tonumber(ARGV[1]) or now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ms(now), '+inf')
if #ids == 0 then return {} end
local sessions = {}
for _, json in ipairs(redis.call('HMGET', KEYS[1], unpack(ids))) do
  if json then sessions[#sessions + 1] = json end
end
return sessions
`;

/** ARGV: id, ttlMs, lifetimeEndMs → json of the session when it is still live, or nil. */
const TOUCH = `${USER_PRELUDE}
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) > now then
  redis.call('ZADD', KEYS[2], ms(expiry(now, ARGV[2], ARGV[3])), ARGV[1])
end
prune(now)
keep(now)
return redis.call('HGET', KEYS[1], ARGV[1])
`;

/** ARGV: id → {} when unknown, else {1 when it was live, json}. */
const REMOVE = `${USER_PRELUDE}
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
local json = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
prune(now)
keep(now)
if not json then return {} end
if score and tonumber(score) > now then return {1, json} end
return {0, json}
`;

/** ARGV: id, json, ttlMs, lifetimeEndMs → 1 when put back, 0 when the session is live already. No limit, no replacement. */
const RESTORE = `${USER_PRELUDE}
local now = now_ms()
prune(now)
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ms(expiry(now, ARGV[3], ARGV[4])), ARGV[1])
prune(now)
keep(now)
return 1
`;

/** KEYS[1] = identity index; ARGV: sub, ttlMs. Keeps the sub listed at least ttlMs more. */
const EXTEND_IDENTITY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
redis.call('ZADD', KEYS[1], 'GT', string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], string.format('%d', tonumber(last[2]) - now))
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    voraSessionOpen(
      sessions: string,
      expiry: string,
      id: string,
      json: string,
      identity: string,
      connectionType: string,
      ttlMs: number,
      maxPerUser: number,
      lifetimeEndMs: number,
    ): Result<[number, string | number | null, number], Context>;
    voraSessionGet(sessions: string, expiry: string, id: string): Result<string | null, Context>;
    voraSessionList(sessions: string, expiry: string, nowMs?: number): Result<string[], Context>;
    voraSessionTouch(sessions: string, expiry: string, id: string, ttlMs: number, lifetimeEndMs: number): Result<string | null, Context>;
    voraSessionRemove(sessions: string, expiry: string, id: string): Result<[] | [number, string], Context>;
    voraSessionRestore(
      sessions: string,
      expiry: string,
      id: string,
      json: string,
      ttlMs: number,
      lifetimeEndMs: number,
    ): Result<number, Context>;
    voraIdentityExtend(identity: string, sub: string, ttlMs: number): Result<number, Context>;
  }
}

/**
 * Sessions in Redis. The user's slot `{u:<sub>}` is the source of truth and
 * is changed only by scripts, so open() is atomic; the id, token and identity
 * pointers are single keys written before and removed after it, and every
 * lookup through them checks the session itself.
 */
@Injectable()
export class RedisSessionStore extends SessionStore {
  private readonly client: RedisClient;

  constructor(private readonly redis: RedisConnection) {
    super();
    this.client = redis.client;
    redis.loadScripts({
      voraSessionOpen: { keys: 2, lua: OPEN },
      voraSessionGet: { keys: 2, lua: GET, readOnly: true },
      voraSessionList: { keys: 2, lua: LIST, readOnly: true },
      voraSessionTouch: { keys: 2, lua: TOUCH },
      voraSessionRemove: { keys: 2, lua: REMOVE },
      voraSessionRestore: { keys: 2, lua: RESTORE },
      voraIdentityExtend: { keys: 1, lua: EXTEND_IDENTITY },
    });
  }

  async open(session: Session, limits: { ttlS: number; maxPerUser: number }): Promise<OpenResult> {
    const { sub } = session;
    const ttlMs = limits.ttlS * 1000;
    const pointerMs = pointerTtlMs(session, ttlMs);
    const ref: TokenRef = { sub, id: session.id };
    // Pointers first (on one Redis, one pipeline in this order): should the connection drop before the
    // script, they lead nowhere. On a Cluster the four go to their nodes side by side; either way the
    // setup answers only once all four are written.
    const batch = this.pointersBatch(session, ref, pointerMs);
    batch.add(keys.sessions(sub), (pipeline) =>
      pipeline.voraSessionOpen(
        keys.sessions(sub),
        keys.expiry(sub),
        session.id,
        JSON.stringify(session),
        session.identity,
        session.connectionType,
        ttlMs,
        limits.maxPerUser,
        lifetimeEnd(session),
      ),
    );
    const [, , , [result]] = (await execBatchValues(batch)) as [unknown, unknown, unknown, [[number, string | number | null, number]]];

    const [opened, replacedOrLive, unreadable] = result;
    if (unreadable > 0) this.bad('session', keys.sessions(sub), `${unreadable} unreadable session record(s), removed`);
    if (opened === 0) {
      await this.dropPointers(session);
      return { opened: false, live: Number(replacedOrLive) };
    }
    const replaced = typeof replacedOrLive === 'string' ? this.readSession(sub, replacedOrLive) : undefined;
    if (!replaced) return { opened: true };
    await this.dropPointers(replaced);
    return { opened: true, replaced };
  }

  async findByTokenHash(tokenHash: string): Promise<Session | undefined> {
    const raw = await this.pointer('token-pointer', keys.tokenForLog(tokenHash), () =>
      viaRedis(() => this.client.get(keys.token(tokenHash))),
    );
    if (raw === null) return undefined;
    const ref = readJsonRecord<TokenRef>(raw, TOKEN_REF_SHAPE);
    if (ref instanceof Malformed) return this.bad('token-pointer', keys.tokenForLog(tokenHash), ref.problem);
    const session = await this.getOf(ref.sub, ref.id);
    // A replaced or removed session never answers for a token that is not its own.
    return session?.tokenHash === tokenHash ? session : undefined;
  }

  async listByUser(sub: string): Promise<Session[]> {
    const sessions = await viaRedis(() => this.client.voraSessionList(keys.sessions(sub), keys.expiry(sub)));
    return this.readSessions(sub, sessions);
  }

  /**
   * Each step shares its round trip with the touches of every other socket's
   * heartbeat. The caller's session names the user's slot, so no pointer is
   * read first; the stored record still decides whether it lives.
   */
  async touch(session: Session, ttlS: number): Promise<boolean> {
    const { id, sub } = session;
    const ttlMs = ttlS * 1000;
    const [json] = (await this.redis.inTurn(keys.sessions(sub), (pipeline) =>
      pipeline.voraSessionTouch(keys.sessions(sub), keys.expiry(sub), id, ttlMs, lifetimeEnd(session)),
    )) as [string | null];
    const stored = json === null ? undefined : this.readSession(sub, json);
    if (!stored) return false;
    const pointerMs = pointerTtlMs(stored, ttlMs);
    const identityKey = keys.identity(stored.identity);
    // Three keys in three slots: each its own part of the turn.
    await Promise.all([
      this.redis.inTurn(keys.id(id), (pipeline) => pipeline.pexpire(keys.id(id), pointerMs)),
      this.redis.inTurn(keys.token(stored.tokenHash), (pipeline) => pipeline.pexpire(keys.token(stored.tokenHash), pointerMs)),
      this.redis.inTurn(identityKey, (pipeline) => pipeline.voraIdentityExtend(identityKey, storedSub(sub), pointerMs)),
    ]);
    return true;
  }

  async remove(id: string): Promise<Session | undefined> {
    const sub = await this.subOf(id, () => viaRedis(() => this.client.get(keys.id(id))));
    if (sub === undefined) return undefined;
    const result = await viaRedis(() => this.client.voraSessionRemove(keys.sessions(sub), keys.expiry(sub), id));
    const session = result.length === 0 ? undefined : this.readSession(sub, result[1]);
    if (!session) {
      await viaRedis(() => this.client.del(keys.id(id)));
      return undefined;
    }
    await this.dropPointers(session);
    return result[0] === 1 ? session : undefined;
  }

  async restore(session: Session, ttlS: number): Promise<boolean> {
    const { sub } = session;
    const ttlMs = ttlS * 1000;
    const pointerMs = pointerTtlMs(session, ttlMs);
    const ref: TokenRef = { sub, id: session.id };
    // The pointers lead to this very session either way, so writing them when it exists is harmless.
    const batch = this.pointersBatch(session, ref, pointerMs);
    batch.add(keys.sessions(sub), (pipeline) =>
      pipeline.voraSessionRestore(keys.sessions(sub), keys.expiry(sub), session.id, JSON.stringify(session), ttlMs, lifetimeEnd(session)),
    );
    const [, , , [restored]] = (await execBatchValues(batch)) as [unknown, unknown, unknown, [number]];
    return restored === 1;
  }

  /** Why Redis cannot serve every key now (see RedisConnection.problem), or undefined. */
  async problem(): Promise<string | undefined> {
    return this.redis.problem();
  }

  /** `vora:epoch` is created by whoever first finds it missing; an empty Redis has none. */
  async epoch(): Promise<string> {
    const [, epoch] = (await execPipeline(
      this.client.pipeline().set(EPOCH_KEY, randomUUID(), 'NX').get(EPOCH_KEY),
    )) as [unknown, string];
    return epoch;
  }

  /**
   * Two round trips for all the identities: their indexes and the Redis clock,
   * then the live sessions of every user found, each user once. `now` is read
   * a round trip before the sessions: a session expiring in between is listed,
   * as it would be had it expired just after a lookup.
   */
  async listByIdentities(identities: readonly string[]): Promise<Session[][]> {
    if (!identities.length) return [];
    const indexes = this.redis.batch();
    // TIME on the node of the first index: on a Cluster, each node has a clock, and any one will do.
    indexes.add(keys.identity(identities[0]), (pipeline) => pipeline.time());
    for (const identity of identities) indexes.add(keys.identity(identity), (pipeline) => pipeline.zrange(keys.identity(identity), '0', '-1'));
    const [[[timeError, time]], ...indexed] = await execBatch(indexes);
    if (timeError) throw timeError;
    const subsOf = indexed.map(([[error, members]], i) => this.subsOfIndex(identities[i], error, members as string[]));
    const subs = [...new Set(subsOf.flat())];
    if (!subs.length) return identities.map(() => []);

    const [seconds, micros] = time as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const lists = this.redis.batch();
    for (const sub of subs) lists.add(keys.sessions(sub), (pipeline) => pipeline.voraSessionList(keys.sessions(sub), keys.expiry(sub), now));
    const listed = (await execBatchValues(lists)).map(([sessions]) => sessions as string[]);
    const sessionsOf = new Map(subs.map((sub, i) => [sub, this.readSessions(sub, listed[i])]));
    return identities.map((identity, i) =>
      subsOf[i].flatMap((sub) => sessionsOf.get(sub)!).filter((session) => session.identity === identity),
    );
  }

  private async getOf(sub: string, id: string): Promise<Session | undefined> {
    const json = await viaRedis(() => this.client.voraSessionGet(keys.sessions(sub), keys.expiry(sub), id));
    return json === null ? undefined : this.readSession(sub, json);
  }

  /** The sub a session id points to, undefined when none or when the pointer is malformed. */
  private async subOf(id: string, read: () => Promise<string | null>): Promise<string | undefined> {
    const stored = await this.pointer('session-pointer', keys.id(id), read);
    if (stored === null) return undefined;
    const sub = readSub(stored);
    return sub instanceof Malformed ? this.bad('session-pointer', keys.id(id), sub.problem) : sub;
  }

  /** A pointer's value; null when missing or when the key holds another type (reported). */
  private async pointer(record: StoredRecord, keyForLog: string, read: () => Promise<string | null>): Promise<string | null> {
    try {
      return await read();
    } catch (error) {
      if (!isWrongType(error)) throw error;
      this.bad(record, keyForLog, 'the key holds another type');
      return null;
    }
  }

  /** The subs an identity index lists, the readable ones. */
  private subsOfIndex(identity: string, error: Error | null, members: string[]): string[] {
    if (error) {
      if (!isWrongType(error)) throw error;
      this.bad('identity-index', keys.identity(identity), 'the key holds another type');
      return [];
    }
    const subs: string[] = [];
    for (const member of members) {
      const sub = readSub(member);
      if (sub instanceof Malformed) this.bad('identity-index', keys.identity(identity), sub.problem);
      else subs.push(sub);
    }
    return subs;
  }

  private readSessions(sub: string, records: readonly string[]): Session[] {
    const sessions: Session[] = [];
    for (const json of records) {
      const session = this.readSession(sub, json);
      if (session) sessions.push(session);
    }
    return sessions;
  }

  /** A stored session record, undefined (reported) when it is not one a gateway wrote. */
  private readSession(sub: string, json: string): Session | undefined {
    const session = readJsonRecord<Session>(json, SESSION_SHAPE);
    if (!(session instanceof Malformed)) return session;
    return this.bad('session', keys.sessions(sub), session.problem);
  }

  private bad(record: StoredRecord, key: string, problem: string): undefined {
    this.redis.badValue(record, key, problem);
    return undefined;
  }

  /** One command per key: the pointers live in different Cluster slots. */
  private async dropPointers(session: Session): Promise<void> {
    const batch = this.redis.batch();
    batch.add(keys.id(session.id), (pipeline) => pipeline.del(keys.id(session.id)));
    batch.add(keys.token(session.tokenHash), (pipeline) => pipeline.del(keys.token(session.tokenHash)));
    await execBatchValues(batch);
  }

  /** The id, token and identity pointers of `session`, each in its own slot, as the first three parts of a batch. */
  private pointersBatch(session: Session, ref: TokenRef, pointerMs: number): NodeBatch {
    const batch = this.redis.batch();
    const identityKey = keys.identity(session.identity);
    batch.add(keys.id(session.id), (pipeline) => pipeline.set(keys.id(session.id), storedSub(session.sub), 'PX', pointerMs));
    batch.add(keys.token(session.tokenHash), (pipeline) =>
      pipeline.set(keys.token(session.tokenHash), JSON.stringify(ref), 'PX', pointerMs),
    );
    batch.add(identityKey, (pipeline) => pipeline.voraIdentityExtend(identityKey, storedSub(session.sub), pointerMs));
    return batch;
  }
}

/** The pointers' TTL: the grace beyond the session's, but nothing past its lifetime (at least 1 ms, as PX needs). */
function pointerTtlMs(session: Session, ttlMs: number): number {
  return Math.max(1, Math.min(ttlMs + POINTER_GRACE_MS, lifetimeEnd(session) - Date.now()));
}
