import { randomUUID } from 'node:crypto';
import { MemorySessionStore } from '../../src/session/memory-session.store';
import { RedisSessionStore } from '../../src/session/redis-session.store';
import { lifetimeEnd, Session } from '../../src/session/session';
import { SessionStore } from '../../src/session/session.store';
import { eventually } from '../support/eventually';
import { contractAdapters, redisForThisSpec, twoInstances } from '../support/contract-adapters';
import { connectRedis } from '../support/redis-server';

interface Harness {
  store: SessionStore;
  close(): Promise<void>;
}

const redis = redisForThisSpec();
const adapters = contractAdapters(
  (): Harness => {
    const store = new MemorySessionStore();
    return { store, close: async () => store.onModuleDestroy() };
  },
  async (where): Promise<Harness> => {
    const connection = await connectRedis(where);
    return { store: new RedisSessionStore(connection), close: () => connection.close() };
  },
  redis,
);

const LONG = { ttlS: 60, maxPerUser: 10 };
const byId = (sessions: Session[]) => [...sessions].sort((a, b) => a.id.localeCompare(b.id));

describe.each(adapters)('SessionStore contract: %s', (_name, make) => {
  let harness: Harness;
  let store: SessionStore;
  // Fresh names per test, so tests never see each other's sessions.
  let sub: string;
  let identity: string;

  const session = (over: Partial<Session> = {}): Session => ({
    id: randomUUID(),
    sub,
    mode: 'user',
    identity,
    connectionType: 'WEB',
    holdUpMode: false,
    tokenHash: randomUUID(),
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    ...over,
  });

  beforeEach(async () => {
    harness = await make();
    store = harness.store;
    sub = `user-${randomUUID()}`;
    identity = `+90${Math.floor(Math.random() * 1e10)}`;
  });
  afterEach(async () => {
    await harness.close();
  });

  it('opens a session that every index finds', async () => {
    const s = session({ holdUpMode: true, connectionType: 'MOBILE' });
    expect(await store.open(s, LONG)).toEqual({ opened: true });
    expect(await store.findByTokenHash(s.tokenHash)).toEqual(s);
    expect(await store.listByUser(sub)).toEqual([s]);
    expect(await store.listByIdentities([identity])).toEqual([[s]]);
  });

  it('finds nothing for unknown ids, tokens, users and identities', async () => {
    expect(await store.remove(randomUUID())).toBeUndefined();
    expect(await store.findByTokenHash(randomUUID())).toBeUndefined();
    expect(await store.listByUser(`nobody-${randomUUID()}`)).toEqual([]);
    expect(await store.listByIdentities(['+900000000000'])).toEqual([[]]);
  });

  it('replaces the session with the same (sub, identity, connectionType) and revokes its token', async () => {
    const first = session();
    const second = session();
    await store.open(first, LONG);
    expect(await store.open(second, LONG)).toEqual({ opened: true, replaced: first });
    expect(await store.findByTokenHash(first.tokenHash)).toBeUndefined();
    expect(await store.findByTokenHash(second.tokenHash)).toEqual(second);
    expect(await store.listByUser(sub)).toEqual([second]);
    expect(await store.listByIdentities([identity])).toEqual([[second]]);
  });

  it('keeps sessions that differ in identity or connection type', async () => {
    const web = session();
    const desktop = session({ connectionType: 'DESKTOP' });
    const other = session({ identity: `${identity}9` });
    for (const s of [web, desktop, other]) expect(await store.open(s, LONG)).toEqual({ opened: true });
    expect(byId(await store.listByUser(sub))).toEqual(byId([web, desktop, other]));
    expect(byId((await store.listByIdentities([identity]))[0])).toEqual(byId([web, desktop]));
  });

  it('lists an identity across users', async () => {
    const mine = session();
    const theirs = session({ sub: `other-${randomUUID()}` });
    await store.open(mine, LONG);
    await store.open(theirs, LONG);
    expect(byId((await store.listByIdentities([identity]))[0])).toEqual(byId([mine, theirs]));
    expect(await store.listByUser(sub)).toEqual([mine]);
  });

  it.each([
    ['started side by side', (ids: string[]) => Promise.all(ids.map(async (id) => (await store.listByIdentities([id]))[0]))],
    ['made in one call', (ids: string[]) => store.listByIdentities(ids)],
  ])('answers identity lookups %s each with its own sessions, in the order asked', async (_how, lookUp) => {
    const other = `${identity}9`;
    const mine = session();
    const myOther = session({ identity: other });
    const theirs = session({ sub: `other-${randomUUID()}`, identity: other });
    for (const s of [mine, myOther, theirs]) await store.open(s, LONG);
    const [first, second, unknown, again] = await lookUp([identity, other, '+900000000000', identity]);
    expect(first).toEqual([mine]);
    expect(byId(second)).toEqual(byId([myOther, theirs]));
    expect(unknown).toEqual([]);
    expect(again).toEqual([mine]);
    await store.remove(mine.id);
    expect((await lookUp([identity, other])).map(byId)).toEqual([[], byId([myOther, theirs])]);
  });

  it('refuses a session over the per-user limit, and the refused one leaves no trace', async () => {
    const limits = { ttlS: 60, maxPerUser: 2 };
    const a = session();
    const b = session({ connectionType: 'DESKTOP' });
    const c = session({ connectionType: 'MOBILE' });
    await store.open(a, limits);
    await store.open(b, limits);
    expect(await store.open(c, limits)).toEqual({ opened: false, live: 2 });
    expect(await store.findByTokenHash(c.tokenHash)).toBeUndefined();
    expect(byId(await store.listByUser(sub))).toEqual(byId([a, b]));
    // Other users have their own limit.
    expect(await store.open(session({ sub: `other-${randomUUID()}` }), limits)).toEqual({ opened: true });
  });

  it('lets a replacement through at the limit: the replaced session does not count twice', async () => {
    const limits = { ttlS: 60, maxPerUser: 2 };
    const a = session();
    const b = session({ connectionType: 'DESKTOP' });
    const again = session();
    await store.open(a, limits);
    await store.open(b, limits);
    expect(await store.open(again, limits)).toEqual({ opened: true, replaced: a });
    expect(byId(await store.listByUser(sub))).toEqual(byId([again, b]));
  });

  it('opens exactly maxPerUser of 20 sessions opened at once', async () => {
    const sessions = Array.from({ length: 20 }, (_, i) => session({ identity: `${identity}${i}` }));
    const results = await Promise.all(sessions.map((s) => store.open(s, { ttlS: 60, maxPerUser: 10 })));
    expect(results.filter((r) => r.opened)).toHaveLength(10);
    expect(results.filter((r) => !r.opened)).toEqual(Array(10).fill({ opened: false, live: 10 }));
    const live = await store.listByUser(sub);
    expect(live).toHaveLength(10);
    const openedIds = sessions.filter((_, i) => results[i].opened).map((s) => s.id);
    expect(live.map((s) => s.id).sort()).toEqual(openedIds.sort());
  });

  it('forgets a session once its TTL has passed, in every index', async () => {
    const s = session();
    await store.open(s, { ttlS: 1, maxPerUser: 10 });
    expect(await store.findByTokenHash(s.tokenHash)).toEqual(s);
    await eventually(async () => expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined());
    expect(await store.listByUser(sub)).toEqual([]);
    expect(await store.listByIdentities([identity])).toEqual([[]]);
    expect(await store.touch(s, 60)).toBe(false);
    expect(await store.remove(s.id)).toBeUndefined();
  });

  it('does not count expired sessions against the limit', async () => {
    const limits = { ttlS: 1, maxPerUser: 1 };
    const old = session();
    await store.open(old, limits);
    expect(await store.open(session({ connectionType: 'DESKTOP' }), limits)).toEqual({ opened: false, live: 1 });
    await eventually(async () => expect(await store.findByTokenHash(old.tokenHash)).toBeUndefined());
    expect(await store.open(session({ connectionType: 'DESKTOP' }), limits)).toEqual({ opened: true });
  });

  it('extends a touched session past the TTL it was opened with', async () => {
    const touched = session();
    const control = session({ connectionType: 'DESKTOP' });
    await store.open(touched, { ttlS: 1, maxPerUser: 10 });
    await store.open(control, { ttlS: 1, maxPerUser: 10 });
    expect(await store.touch(touched, 60)).toBe(true);
    await eventually(async () => expect(await store.findByTokenHash(control.tokenHash)).toBeUndefined());
    expect(await store.findByTokenHash(touched.tokenHash)).toEqual(touched);
    expect(await store.listByUser(sub)).toEqual([touched]);
    expect(await store.listByIdentities([identity])).toEqual([[touched]]);
  });

  it('ends a session at the end of its lifetime, however long its TTL and however it is touched', async () => {
    const s = session({ expiresAt: new Date(Date.now() + 1_500).toISOString() });
    const kept = session({ connectionType: 'DESKTOP' });
    await store.open(s, { ttlS: 3600, maxPerUser: 10 });
    await store.open(kept, { ttlS: 3600, maxPerUser: 10 });
    expect(await store.touch(s, 3600)).toBe(true);
    await eventually(async () => expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined());
    expect(Date.now()).toBeGreaterThanOrEqual(lifetimeEnd(s));
    expect((await store.listByUser(s.sub)).map((other) => other.id)).not.toContain(s.id);
    expect(await store.touch(s, 3600)).toBe(false);
    expect(await store.listByUser(sub)).toEqual([kept]);
    expect(await store.listByIdentities([identity])).toEqual([[kept]]);
    // A restore does not bring it back past its lifetime either.
    await store.restore(s, 3600);
    expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined();
  });

  it('answers false when touching an unknown session', async () => {
    expect(await store.touch(session(), 60)).toBe(false);
  });

  it('removes a session from every index and returns it once', async () => {
    const s = session();
    const kept = session({ connectionType: 'DESKTOP' });
    await store.open(s, LONG);
    await store.open(kept, LONG);
    expect(await store.remove(s.id)).toEqual(s);
    expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined();
    expect(await store.listByUser(sub)).toEqual([kept]);
    expect(await store.listByIdentities([identity])).toEqual([[kept]]);
    expect(await store.touch(s, 60)).toBe(false);
    expect(await store.remove(s.id)).toBeUndefined();
    // The removed session no longer counts: the limit has room again.
    expect(await store.open(session({ connectionType: 'MOBILE' }), { ttlS: 60, maxPerUser: 2 })).toEqual({ opened: true });
  });

  it('restores a lost session into every index, outside the per-user limit', async () => {
    const limits = { ttlS: 60, maxPerUser: 1 };
    const kept = session();
    const lost = session({ connectionType: 'DESKTOP' });
    await store.open(kept, limits);
    expect(await store.restore(lost, 60)).toBe(true);
    expect(await store.findByTokenHash(lost.tokenHash)).toEqual(lost);
    expect(byId(await store.listByUser(sub))).toEqual(byId([kept, lost]));
    expect(byId((await store.listByIdentities([identity]))[0])).toEqual(byId([kept, lost]));
  });

  it('does not restore a session that is live, and restores one that was removed', async () => {
    const s = session();
    await store.open(s, LONG);
    expect(await store.restore(s, 60)).toBe(false);
    await store.remove(s.id);
    expect(await store.restore(s, 60)).toBe(true);
    expect(await store.findByTokenHash(s.tokenHash)).toEqual(s);
  });

  it('lets a restored session expire like any other', async () => {
    const s = session();
    expect(await store.restore(s, 1)).toBe(true);
    await eventually(async () => expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined());
    expect(await store.listByUser(sub)).toEqual([]);
  });

  it('reports no problem to readiness while the store is reachable', async () => {
    await expect(store.problem()).resolves.toBeUndefined();
  });
});

describe('SessionStore contract: redis across instances', () => {
  it('shares sessions between two connections, as between two gateway instances', async () => {
    const { a: storeA, b: storeB, close } = await twoInstances(redis().url, (connection) => new RedisSessionStore(connection));
    try {
      const s: Session = {
        id: randomUUID(),
        sub: `user-${randomUUID()}`,
        mode: 'user',
        identity: '+905321119999',
        connectionType: 'WEB',
        holdUpMode: false,
        tokenHash: randomUUID(),
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      };
      await storeA.open(s, LONG);
      expect(await storeB.findByTokenHash(s.tokenHash)).toEqual(s);
      expect(await storeB.remove(s.id)).toEqual(s);
      expect(await storeA.findByTokenHash(s.tokenHash)).toBeUndefined();
      expect(await storeA.remove(s.id)).toBeUndefined();
    } finally {
      await close();
    }
  });

  it('sets no TTL past the end of a session’s lifetime, on any of its keys', async () => {
    const connection = await connectRedis(redis().url);
    try {
      const store = new RedisSessionStore(connection);
      const s: Session = {
        id: randomUUID(),
        sub: `user-${randomUUID()}`,
        mode: 'user',
        identity: '+905321117777',
        connectionType: 'WEB',
        holdUpMode: false,
        tokenHash: randomUUID(),
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 30_000).toISOString(),
      };
      await store.open(s, { ttlS: 3600, maxPerUser: 10 });
      await store.touch(s, 3600);
      const client = connection.client;
      const keys = [`vora:{u:${s.sub}}:sessions`, `vora:{u:${s.sub}}:expiry`, `vora:sid:${s.id}`, `vora:tok:${s.tokenHash}`, `vora:idn:${s.identity}`];
      // Read before the TTLs, so that it is no less than what they have left.
      const left = lifetimeEnd(s) - Date.now();
      const ttls = await Promise.all(keys.map((key) => client.pttl(key)));
      for (const [i, ttl] of ttls.entries()) {
        expect([keys[i], ttl > 0 && ttl <= left + 1]).toEqual([keys[i], true]);
      }
      expect(Number(await client.zscore(`vora:{u:${s.sub}}:expiry`, s.id))).toBeLessThanOrEqual(lifetimeEnd(s));
    } finally {
      await connection.close();
    }
  });

  it('keeps a user in braces in its own slot', async () => {
    const connection = await connectRedis(redis().url);
    try {
      const store = new RedisSessionStore(connection);
      const tricky = { sub: 'a}:sessions{b', other: 'a' };
      const base = { mode: 'user' as const, identity: '+905321118888', connectionType: 'WEB' as const, holdUpMode: false };
      const s1: Session = { ...base, id: randomUUID(), sub: tricky.sub, tokenHash: randomUUID(), createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString() };
      const s2: Session = { ...base, id: randomUUID(), sub: tricky.other, tokenHash: randomUUID(), createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString() };
      await store.open(s1, LONG);
      await store.open(s2, LONG);
      expect(await store.listByUser(tricky.sub)).toEqual([s1]);
      expect(await store.listByUser(tricky.other)).toEqual([s2]);
      const keys = await connection.client.keys('vora:{u:*');
      expect(keys.every((key) => /^vora:\{u:[^{}]*\}:/.test(key))).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
