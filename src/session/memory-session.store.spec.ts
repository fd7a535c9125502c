import { MemorySessionStore } from './memory-session.store';
import { ConnectionType, Session } from './session';

let counter = 0;
function session(overrides: Partial<Session> = {}): Session {
  counter += 1;
  return {
    id: `session-${counter}`,
    sub: 'alice',
    mode: 'user',
    identity: '+905321110001',
    connectionType: 'WEB',
    holdUpMode: false,
    tokenHash: `hash-${counter}`,
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    ...overrides,
  };
}

const limits = { ttlS: 60, maxPerUser: 3 };

describe('MemorySessionStore', () => {
  let store: MemorySessionStore;
  beforeEach(() => {
    store = new MemorySessionStore();
  });
  afterEach(() => {
    store.onModuleDestroy();
    jest.useRealTimers();
  });

  describe('open', () => {
    it('stores a session under its id, token hash, user and identity', async () => {
      const s = session();
      expect(await store.open(s, limits)).toEqual({ opened: true, replaced: undefined });
      expect(await store.findByTokenHash(s.tokenHash)).toEqual(s);
      expect(await store.listByUser('alice')).toEqual([s]);
      expect(await store.listByIdentities(['+905321110001'])).toEqual([[s]]);
    });

    it('replaces the session with the same (sub, identity, connectionType) and drops its token', async () => {
      const first = session();
      const second = session();
      await store.open(first, limits);
      expect(await store.open(second, limits)).toEqual({ opened: true, replaced: first });
      expect(await store.findByTokenHash(first.tokenHash)).toBeUndefined();
      expect(await store.findByTokenHash(second.tokenHash)).toEqual(second);
      expect(await store.listByUser('alice')).toEqual([second]);
      expect(await store.listByIdentities(['+905321110001'])).toEqual([[second]]);
    });

    it('keeps sessions that differ in identity or connectionType', async () => {
      const web = session({ connectionType: 'WEB' });
      const mobile = session({ connectionType: 'MOBILE' });
      const other = session({ identity: '+902121110001' });
      for (const s of [web, mobile, other]) expect((await store.open(s, limits)).opened).toBe(true);
      expect(await store.listByUser('alice')).toHaveLength(3);
      expect(await store.listByIdentities(['+905321110001'])).toEqual([[web, mobile]]);
    });

    it('refuses a session past maxPerUser, but not a replacement', async () => {
      const types: ConnectionType[] = ['WEB', 'DESKTOP'];
      for (const connectionType of types) await store.open(session({ connectionType }), { ttlS: 60, maxPerUser: 2 });
      const third = session({ connectionType: 'MOBILE' });
      expect(await store.open(third, { ttlS: 60, maxPerUser: 2 })).toEqual({ opened: false, live: 2 });
      expect(await store.findByTokenHash(third.tokenHash)).toBeUndefined();
      const replacement = session({ connectionType: 'WEB' });
      expect((await store.open(replacement, { ttlS: 60, maxPerUser: 2 })).opened).toBe(true);
      expect(await store.listByUser('alice')).toHaveLength(2);
    });

    it('counts sessions per user', async () => {
      await store.open(session(), { ttlS: 60, maxPerUser: 1 });
      expect((await store.open(session({ sub: 'bob' }), { ttlS: 60, maxPerUser: 1 })).opened).toBe(true);
    });

    it('keeps one session per key when replacements of the same key race', async () => {
      await store.open(session(), limits);
      const racing = [session(), session(), session()];
      const results = await Promise.all(racing.map((s) => store.open(s, limits)));
      expect(results.every((r) => r.opened)).toBe(true);
      const live = await store.listByUser('alice');
      expect(live).toHaveLength(1);
      const withToken = await Promise.all(racing.map((s) => store.findByTokenHash(s.tokenHash)));
      expect(withToken.filter(Boolean)).toEqual(live);
    });
  });

  describe('ttl', () => {
    beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-28T10:00:00Z') }));

    it('forgets a session ttlS after it was opened, with its indexes', async () => {
      const s = session();
      await store.open(s, { ttlS: 1, maxPerUser: 1 });
      jest.advanceTimersByTime(999);
      expect(await store.findByTokenHash(s.tokenHash)).toEqual(s);
      jest.advanceTimersByTime(1);
      expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined();
      expect(await store.listByUser('alice')).toEqual([]);
      expect(await store.listByIdentities([s.identity])).toEqual([[]]);
    });

    it('does not count expired sessions against maxPerUser', async () => {
      await store.open(session({ connectionType: 'WEB' }), { ttlS: 1, maxPerUser: 1 });
      jest.advanceTimersByTime(1000);
      expect((await store.open(session({ connectionType: 'MOBILE' }), { ttlS: 1, maxPerUser: 1 })).opened).toBe(true);
    });

    it('frees the token index of an expired session on the periodic sweep', async () => {
      const s = session();
      await store.open(s, { ttlS: 1, maxPerUser: 1 });
      jest.advanceTimersByTime(10_000);
      // The sweep ran: a new session with the same token hash is not shadowed by the old one.
      const again = session({ tokenHash: s.tokenHash });
      await store.open(again, { ttlS: 60, maxPerUser: 1 });
      expect(await store.findByTokenHash(s.tokenHash)).toEqual(again);
    });

    it('touch extends the life of a live session only', async () => {
      const s = session();
      await store.open(s, { ttlS: 1, maxPerUser: 1 });
      jest.advanceTimersByTime(900);
      expect(await store.touch(s, 1)).toBe(true);
      jest.advanceTimersByTime(900);
      expect(await store.findByTokenHash(s.tokenHash)).toEqual(s);
      jest.advanceTimersByTime(100);
      expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined();
      expect(await store.touch(s, 1)).toBe(false);
      expect(await store.touch(session(), 1)).toBe(false);
    });
  });

  describe('remove', () => {
    it('removes the session and every index, and returns it once', async () => {
      const s = session();
      const other = session({ connectionType: 'MOBILE' });
      await store.open(s, limits);
      await store.open(other, limits);
      expect(await store.remove(s.id)).toEqual(s);
      expect(await store.remove(s.id)).toBeUndefined();
      expect(await store.findByTokenHash(s.tokenHash)).toBeUndefined();
      expect(await store.listByUser('alice')).toEqual([other]);
      expect(await store.listByIdentities([s.identity])).toEqual([[other]]);
    });
  });

  it('has no problem to report to readiness', async () => {
    await expect(store.problem()).resolves.toBeUndefined();
  });
});
