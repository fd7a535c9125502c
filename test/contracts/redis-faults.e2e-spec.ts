import { Metrics } from '../../src/infra/metrics/metrics';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { MemoryInstances } from '../../src/cluster/memory-instances';
import { RedisClusterEvents } from '../../src/cluster/redis-cluster-events';
import { StoreUnavailableError } from '../../src/common/store-unavailable';
import { RedisEventBufferStore } from '../../src/events/redis-event-buffer.store';
import { RedisDeliveryBus } from '../../src/events/redis-delivery-bus';
import { frameTail } from '../../src/events/envelope';
import { RedisPendingCallStore } from '../../src/holdup/redis-pending-calls.store';
import { RATE_WINDOW_MS } from '../../src/limits/rate-limit.store';
import { RedisRateLimitStore } from '../../src/limits/redis-rate-limit.store';
import { RedisSessionStore } from '../../src/session/redis-session.store';
import { RedisSubscriptionStore } from '../../src/subscriptions/redis-subscription.store';
import { Session } from '../../src/session/session';
import { SUBSCRIBE_ALL } from '../../src/subscriptions/subscription.store';
import { RedisConnection } from '../../src/infra/redis/redis-connection';
import { eventually } from '../support/eventually';
import { connectRedis, faultTestsUnsupported, redisConfig, startRedis, TestRedis } from '../support/redis-server';

const LIMITS = { ttlS: 60, maxPerUser: 10 };

const newSession = (): Session => ({
  id: randomUUID(),
  sub: `user-${randomUUID()}`,
  mode: 'user',
  identity: '+905321110001',
  connectionType: 'WEB',
  holdUpMode: false,
  tokenHash: randomUUID(),
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
});

let redis: TestRedis;
let skipReason: string | undefined;
beforeAll(async () => {
  redis = await startRedis();
  skipReason = faultTestsUnsupported(redis);
  if (skipReason) console.warn(`Redis fault tests ${skipReason}`);
});
afterAll(async () => {
  await redis?.close();
});

/** Bounded: a store call that hangs instead of failing fails the test here, not at the jest timeout. */
const settledWithin = <T>(promise: Promise<T>, ms = 5_000): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms: the call hangs`)), ms).unref()),
  ]);

describe('Redis adapters when Redis goes away and comes back', () => {
  let publisher: RedisConnection;
  let listener: RedisConnection;

  beforeAll(async () => {
    if (skipReason) return;
    [publisher, listener] = await Promise.all([connectRedis(redis.url), connectRedis(redis.url)]);
  });
  afterAll(async () => {
    await Promise.all([publisher?.close(), listener?.close()]);
  });

  it('fails fast with StoreUnavailableError while down, and recovers with pub/sub re-subscribed', async () => {
    if (skipReason) return;
    const sessions = new RedisSessionStore(publisher);
    const subscriptions = new RedisSubscriptionStore(publisher);
    const buffer = new RedisEventBufferStore(publisher, redisConfig(redis.url));
    const cluster = new RedisClusterEvents(publisher, new MemoryInstances(), new Metrics());
    const deliveryBus = new RedisDeliveryBus(publisher, new MemoryInstances(), new Metrics());
    const sub = `user-${randomUUID()}`;
    const heard: string[] = [];
    await new RedisClusterEvents(listener, new MemoryInstances(), new Metrics()).listen('SubscriptionChanged', (e) => e.sub === sub && heard.push(e.identity));
    await cluster.publish('SubscriptionChanged', { sub, identity: 'before' });
    await eventually(() => expect(heard).toEqual(['before']));
    await sessions.open(newSession(), LIMITS);

    await redis.stop();

    const calls: Array<[string, () => Promise<unknown>]> = [
            ['open', () => sessions.open(newSession(), LIMITS)],
      ['listByUser', () => sessions.listByUser(`user-${randomUUID()}`)],
      ['findByTokenHash', () => sessions.findByTokenHash(randomUUID())],
      ['listByIdentities', () => sessions.listByIdentities(['+905321110001'])],
      ['touch', () => sessions.touch(newSession(), 60)],
      ['remove', () => sessions.remove(randomUUID())],
      ['subscriptions.putIfAbsent', () => subscriptions.putIfAbsent('alice', '+905321110001', SUBSCRIBE_ALL, 60)],
      ['buffer.append', () => buffer.append([{ sessionId: randomUUID(), tail: '"}' }])],
      ['buffer.readAfter', () => buffer.readAfter(randomUUID(), 0)],
      ['buffer.touch', () => buffer.touch(randomUUID())],
      ['buffer.markWritten', () => buffer.markWritten(randomUUID(), 1)],
      ['subscriptions.touch', () => subscriptions.touch('alice', '+905321110001', 60)],
      ['clusterEvents.publish', () => cluster.publish('SubscriptionChanged', { sub, identity: 'while down' })],
      ['deliveryBus.deliver', () => deliveryBus.deliver('another-instance', [{ sessionId: 's', id: 1, frame: '{}' }])],
    ];
    for (const [name, call] of calls) {
      const outcome = await settledWithin(call().then(() => 'resolved', (error: unknown) => error));
      expect([name, outcome]).toEqual([name, expect.any(StoreUnavailableError)]);
    }
    expect(await settledWithin(sessions.problem())).toMatch(/^store unreachable: /);

    // A subscription made while Redis is away neither hangs nor is lost.
    const lateHeard: string[] = [];
    await settledWithin(new RedisClusterEvents(listener, new MemoryInstances(), new Metrics()).listen('SocketClaimed', (e) => e.sessionId === sub && lateHeard.push(e.connectionId)));

    await redis.start();

    await eventually(async () => expect(await sessions.problem()).toBeUndefined(), { timeoutMs: 20_000 });
    const session = newSession();
    expect(await sessions.open(session, LIMITS)).toEqual({ opened: true });
    expect(await sessions.findByTokenHash(session.tokenHash)).toEqual(session);
    // The listener's connection re-subscribed on its own: publish until it hears again.
    await eventually(
      async () => {
        await cluster.publish('SubscriptionChanged', { sub, identity: 'after' });
        await cluster.publish('SocketClaimed', { sessionId: sub, connectionId: 'late', instanceId: 'i1' });
        expect(heard).toContain('after');
        expect(lateHeard).toContain('late');
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(heard).not.toContain('while down');
  });

  it('starts without Redis: construction, subscribe and ping neither hang nor throw synchronously', async () => {
    if (skipReason) return;
    await redis.stop();
    const connection = new RedisConnection({ kind: 'single', url: redis.url }, new Metrics());
    try {
      expect(await connection.ready(300)).toBe(false);
      const sessions = new RedisSessionStore(connection);
      expect(await settledWithin(sessions.problem())).toMatch(/^store unreachable: /);
      const heard: string[] = [];
      await settledWithin(new RedisClusterEvents(connection, new MemoryInstances(), new Metrics()).listen('SocketClaimed', (e) => heard.push(e.connectionId)));

      await redis.start();
      await eventually(async () => expect(await sessions.problem()).toBeUndefined(), { timeoutMs: 20_000 });
      const cluster = new RedisClusterEvents(publisher, new MemoryInstances(), new Metrics());
      await eventually(
        async () => {
          await cluster.publish('SocketClaimed', { sessionId: 'boot', connectionId: 'hello', instanceId: 'i1' });
          expect(heard).toContain('hello');
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } finally {
      await connection.close();
    }
  });
});

/**
 * Values the adapters never wrote, put where they read (SPEC section 9,
 * issue 14): each is counted and read as missing, or repaired, and never
 * fails the calls after it. The keys are written here by hand, as an
 * operator's redis-cli or an older version would have left them.
 */
describe('Redis adapters reading values they did not write', () => {
  let metrics: Metrics;
  let connection: RedisConnection;
  let raw: Redis;

  beforeAll(async () => {
    if (skipReason) await redis.flush();
    metrics = new Metrics();
    connection = new RedisConnection({ kind: 'single', url: redis.url }, metrics);
    if (!(await connection.ready(10_000))) throw new Error('no connection to the test redis-server');
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await connection?.close();
  });

  const badValues = async (kind: string): Promise<number> =>
    (await metrics.storeBadValues.get()).values.find((value) => value.labels.kind === kind)?.value ?? 0;

  describe('a sub that is not well-formed Unicode (a lone surrogate)', () => {
    const lone = `user-${randomUUID()}-\uD800`;
    /** What ioredis would have sent the lone surrogate as: U+FFFD. A different user, who must stay apart. */
    const replacement = lone.replace('\uD800', '\uFFFD');

    it('opens, finds, lists, touches, replaces and removes its sessions like any other, apart from the look-alike sub', async () => {
      const sessions = new RedisSessionStore(connection);
      const first: Session = { ...newSession(), sub: lone, identity: '+905321110009' };
      const neighbour: Session = { ...newSession(), sub: replacement, identity: '+905321110009' };
      expect(await sessions.open(first, LIMITS)).toEqual({ opened: true });
      expect(await sessions.open(neighbour, LIMITS)).toEqual({ opened: true });

      expect(await sessions.findByTokenHash(first.tokenHash)).toEqual(first);
      expect(await sessions.listByUser(lone)).toEqual([first]);
      expect(await sessions.touch(first, 60)).toBe(true);
      expect((await sessions.listByIdentities(['+905321110009']))[0].map((s) => s.id).sort()).toEqual([first.id, neighbour.id].sort());

      // A second setup of the same key reads the first record in Lua (cjson) and replaces it.
      const second: Session = { ...newSession(), sub: lone, identity: '+905321110009' };
      expect(await sessions.open(second, LIMITS)).toEqual({ opened: true, replaced: first });
      expect(await sessions.listByUser(lone)).toEqual([second]);
      expect(await sessions.listByUser(replacement)).toEqual([neighbour]);
      expect(await sessions.remove(second.id)).toEqual(second);
      expect(await sessions.listByUser(lone)).toEqual([]);
      expect(await sessions.findByTokenHash(neighbour.tokenHash)).toEqual(neighbour);
    });

    it('keeps its subscription in its own slot', async () => {
      const subscriptions = new RedisSubscriptionStore(connection);
      await subscriptions.put(lone, '+905321110009', { subscribeAll: false, events: ['CallDelivered'] }, 60);
      expect(await subscriptions.get(lone, '+905321110009')).toEqual({ subscribeAll: false, events: ['CallDelivered'] });
      expect(await subscriptions.get(replacement, '+905321110009')).toBeUndefined();
    });

    it('is rate limited, not let through as if Redis were down', async () => {
      const limiter = new RedisRateLimitStore(connection);
      for (let i = 0; i < 3; i++) expect(await limiter.take(lone, 'api', 1, 3)).toEqual({ allowed: true, retryAfterMs: 0 });
      const refused = await limiter.take(lone, 'api', 1, 3);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(RATE_WINDOW_MS);
      expect((await limiter.take(replacement, 'api', 1, 3)).allowed).toBe(true);
    });
  });

  describe('sessions and their pointers', () => {
    it('reads a malformed session record as missing, and a later setup of that user removes it', async () => {
      const sessions = new RedisSessionStore(connection);
      const kept = newSession();
      const broken: Session = { ...newSession(), sub: kept.sub, connectionType: 'DESKTOP' };
      await sessions.open(kept, LIMITS);
      await sessions.open(broken, LIMITS);
      const before = await badValues('session');
      await raw.hset(`vora:{u:${kept.sub}}:sessions`, broken.id, '{"id": "not a session"');

      expect(await sessions.findByTokenHash(broken.tokenHash)).toBeUndefined();
      expect(await sessions.touch(broken, 60)).toBe(false);
      expect(await sessions.listByUser(kept.sub)).toEqual([kept]);
      const [listed] = await sessions.listByIdentities([kept.identity]);
      expect(listed).toContainEqual(kept);
      expect(listed.map((s) => s.id)).not.toContain(broken.id);
      expect(await sessions.findByTokenHash(kept.tokenHash)).toEqual(kept);
      // Each of the four lookups above that read the broken record reported it.
      expect(await badValues('session')).toBeGreaterThanOrEqual(before + 4);

      // With one session allowed, the broken record no longer counts: the setup of the same key opens.
      const again: Session = { ...newSession(), sub: kept.sub, connectionType: 'DESKTOP' };
      expect(await sessions.open(again, { ttlS: 60, maxPerUser: 2 })).toEqual({ opened: true });
      expect(await raw.hexists(`vora:{u:${kept.sub}}:sessions`, broken.id)).toBe(0);
      expect((await sessions.listByUser(kept.sub)).map((s) => s.id).sort()).toEqual([kept.id, again.id].sort());
    });

    it('reads a record that is JSON but not a session (a field missing or of another type) as missing', async () => {
      const sessions = new RedisSessionStore(connection);
      const session = newSession();
      await sessions.open(session, LIMITS);
      const { tokenHash: _dropped, ...withoutToken } = session;
      for (const record of [withoutToken, { ...session, holdUpMode: 'yes' }, { ...session, connectionType: 'FAX' }, [session], 'null']) {
        await raw.hset(`vora:{u:${session.sub}}:sessions`, session.id, JSON.stringify(record));
        expect(await sessions.findByTokenHash(session.tokenHash)).toBeUndefined();
        expect(await sessions.listByUser(session.sub)).toEqual([]);
      }
    });

    it('reads malformed token and session pointers, and an identity index of another type, as missing', async () => {
      const sessions = new RedisSessionStore(connection);
      const [a, b] = [newSession(), { ...newSession(), identity: '+905321110077' }];
      await sessions.open(a, LIMITS);
      await sessions.open(b, LIMITS);
      const before = {
        token: await badValues('token-pointer'),
        session: await badValues('session-pointer'),
        index: await badValues('identity-index'),
      };

      await raw.set(`vora:tok:${a.tokenHash}`, 'garbage');
      expect(await sessions.findByTokenHash(a.tokenHash)).toBeUndefined();
      await raw.del(`vora:tok:${a.tokenHash}`);
      await raw.hset(`vora:tok:${a.tokenHash}`, 'sub', a.sub);
      expect(await sessions.findByTokenHash(a.tokenHash)).toBeUndefined();
      await raw.set(`vora:tok:${a.tokenHash}`, JSON.stringify({ sub: a.sub }));
      expect(await sessions.findByTokenHash(a.tokenHash)).toBeUndefined();

      await raw.del(`vora:sid:${a.id}`);
      await raw.sadd(`vora:sid:${a.id}`, a.sub);
      expect(await sessions.remove(a.id)).toBeUndefined();
      expect(await sessions.remove(a.id)).toBeUndefined();
      await raw.del(`vora:sid:${a.id}`);
      await raw.set(`vora:sid:${a.id}`, '"unterminated');
      expect(await sessions.remove(a.id)).toBeUndefined();

      // Routing asks for both identities at once: the broken index hides only its own sessions.
      await raw.del(`vora:idn:${a.identity}`);
      await raw.set(`vora:idn:${a.identity}`, a.sub);
      expect(await sessions.listByIdentities([a.identity, b.identity])).toEqual([[], [b]]);

      expect(await badValues('token-pointer')).toBe(before.token + 3);
      expect(await badValues('session-pointer')).toBe(before.session + 3);
      expect(await badValues('identity-index')).toBe(before.index + 1);
    });
  });

  it('reads a malformed subscription as none', async () => {
    const subscriptions = new RedisSubscriptionStore(connection);
    const sub = `user-${randomUUID()}`;
    const before = await badValues('subscription');
    for (const stored of ['garbage', '{"subscribeAll":"yes","events":[]}', '{"subscribeAll":false,"events":[1]}']) {
      await raw.set(`vora:{u:${sub}}:sub:+905321110001`, stored);
      expect(await subscriptions.get(sub, '+905321110001')).toBeUndefined();
    }
    await raw.del(`vora:{u:${sub}}:sub:+905321110001`);
    await raw.lpush(`vora:{u:${sub}}:sub:+905321110001`, 'CallDelivered');
    expect(await subscriptions.get(sub, '+905321110001')).toBeUndefined();
    expect(await badValues('subscription')).toBe(before + 4);
    // A change overwrites it.
    await subscriptions.put(sub, '+905321110001', SUBSCRIBE_ALL, 60);
    expect(await subscriptions.get(sub, '+905321110001')).toEqual(SUBSCRIBE_ALL);
  });

  it('reads a malformed pending call as not pending, and the deadline sweep passes it by', async () => {
    const calls = new RedisPendingCallStore(connection);
    const sessionId = randomUUID();
    const due = (callId: string) => ({ callId, identity: '+905321110001', sessionIds: [sessionId], startedAt: 1, deadline: 2 });
    const [good, broken, wrongType] = [`good-${randomUUID()}`, `broken-${randomUUID()}`, `typed-${randomUUID()}`];
    for (const callId of [good, broken, wrongType]) expect(await calls.begin(due(callId))).toBe(true);
    const before = await badValues('pending-call');
    await raw.set(`vora:call:${broken}`, '{"callId":');
    await raw.del(`vora:call:${wrongType}`);
    await raw.hset(`vora:call:${wrongType}`, 'callId', wrongType);

    expect(await calls.get(broken)).toBeUndefined();
    expect(await calls.pendingFor(sessionId)).toEqual([due(good)]);
    expect((await calls.due(Date.now())).map((call) => call.callId)).toEqual([good]);
    // No longer swept: the bad records are out of the due set, the good one is still there.
    expect(await raw.zrange('vora:calls:due', '0', '-1')).toEqual([good]);
    expect(await calls.settle(broken)).toBeUndefined();
    expect(await calls.settle(good)).toEqual(due(good));
    expect(await badValues('pending-call')).toBeGreaterThanOrEqual(before + 5);
  });

  describe('the event buffer', () => {
    const tail = (n: number) =>
      frameTail({ event: 'PresenceChanged', timestamp: '2026-11-28T10:00:00.000Z', dataJson: JSON.stringify({ n }) }, '+905321110001');
    const opened = async (buffer: RedisEventBufferStore) => {
      const sessionId = randomUUID();
      await buffer.open(sessionId);
      return sessionId;
    };

    it('leaves out an entry that has no tail, reported; the ids go on after it', async () => {
      const buffer = new RedisEventBufferStore(connection, redisConfig(redis.url));
      const sessionId = await opened(buffer);
      await buffer.append([1, 2].map((n) => ({ sessionId, tail: tail(n) })));
      await raw.xadd(`vora:{s:${sessionId}}:events`, '0-*', 'x', 'not a tail');
      const before = await badValues('buffer');
      const slice = await buffer.readAfter(sessionId, 0);
      expect([slice.newestId, slice.oldestId, slice.events.map((e) => e.id)]).toEqual([3, 1, [1, 2]]);
      const [next] = await buffer.append([{ sessionId, tail: tail(4) }]);
      expect(next).toMatchObject({ id: 4 });
      expect(await badValues('buffer')).toBe(before + 1);
    });

    it('reads a buffer key of another type as empty and buffers nothing there, reported; a continue replaces it', async () => {
      const buffer = new RedisEventBufferStore(connection, redisConfig(redis.url));
      const sessionId = randomUUID();
      await raw.set(`vora:{s:${sessionId}}:events`, 'garbage');
      const before = await badValues('buffer');
      expect(await buffer.readAfter(sessionId, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect(await buffer.append([{ sessionId, tail: tail(1) }])).toEqual([undefined]);
      expect(await buffer.append([{ sessionId, tail: tail(1), sourceId: '5-0' }], { retried: true })).toEqual([undefined]);
      expect(await badValues('buffer')).toBe(before + 3);
      await buffer.continueFrom(sessionId, 7);
      const [next] = await buffer.append([{ sessionId, tail: tail(8) }]);
      expect(next).toMatchObject({ id: 8 });
    });

    it('reads a malformed written marker as 0 and the next mark repairs it', async () => {
      const buffer = new RedisEventBufferStore(connection, redisConfig(redis.url));
      const sessionId = await opened(buffer);
      await buffer.append([{ sessionId, tail: tail(1), sourceId: '5-0' }]);
      const before = await badValues('buffer-meta');
      await raw.hset(`vora:{s:${sessionId}}:meta`, 'written', 'NaN');
      expect(await buffer.lastWritten(sessionId)).toBe(0);
      await buffer.markWritten(sessionId, 1);
      expect(await buffer.lastWritten(sessionId)).toBe(1);
      expect(await raw.pttl(`vora:{s:${sessionId}}:meta`)).toBeGreaterThan(0);
      expect(await badValues('buffer-meta')).toBe(before + 2);
    });
  });

  describe('the rate-limit counter', () => {
    it.each([
      ['not a count', (key: string) => raw.set(key, 'garbage')],
      ['a number tonumber would read', (key: string) => raw.set(key, '1e3')],
      ['another type', (key: string) => raw.hset(key, 'used', '1')],
    ])('is reset when it is %s, the request counted and the limit enforced from there', async (_what, corrupt) => {
      const limiter = new RedisRateLimitStore(connection);
      const caller = `user-${randomUUID()}`;
      const key = `vora:rl:{${caller}}:api`;
      // No TTL: left as it is, a broken counter would stay for good.
      await corrupt(key);
      const before = await badValues('rate-limit-counter');
      for (let i = 0; i < 3; i++) expect((await limiter.take(caller, 'api', 1, 3)).allowed).toBe(true);
      expect((await limiter.take(caller, 'api', 1, 3)).allowed).toBe(false);
      expect(await raw.get(key)).toBe('3');
      expect(await raw.pttl(key)).toBeGreaterThan(0);
      expect(await badValues('rate-limit-counter')).toBe(before + 1);
    });
  });
});
