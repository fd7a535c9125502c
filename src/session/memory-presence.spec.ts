import { MemoryPresence } from './memory-presence';
import { MemorySessionStore } from './memory-session.store';
import { Session } from './session';

const session: Session = {
  id: 'session-1',
  sub: 'alice',
  mode: 'user',
  identity: '+905321110001',
  connectionType: 'WEB',
  holdUpMode: false,
  tokenHash: 'hash-1',
  createdAt: '2026-11-28T10:00:00.000Z',
};

describe('MemoryPresence', () => {
  let store: MemorySessionStore;
  let presence: MemoryPresence;
  beforeEach(async () => {
    jest.useFakeTimers({ now: new Date('2026-11-28T10:00:00Z') });
    store = new MemorySessionStore();
    presence = new MemoryPresence(store);
    await store.open(session, { ttlS: 60, maxPerUser: 3 });
  });
  afterEach(() => {
    store.onModuleDestroy();
    jest.useRealTimers();
  });

  it('counts a session as connected for ttlMs after the last connected()', async () => {
    expect(await presence.isConnected(session.id)).toBe(false);
    await presence.connected(session.id, 'c1', 1_000);
    jest.advanceTimersByTime(999);
    expect(await presence.isConnected(session.id)).toBe(true);
    await presence.connected(session.id, 'c1', 1_000);
    jest.advanceTimersByTime(999);
    expect(await presence.isConnected(session.id)).toBe(true);
    jest.advanceTimersByTime(1);
    expect(await presence.isConnected(session.id)).toBe(false);
  });

  it('forgets the socket on disconnected(), unless a newer socket took over', async () => {
    await presence.connected(session.id, 'c1', 1_000);
    await presence.connected(session.id, 'c2', 1_000);
    await presence.disconnected(session.id, 'c1');
    expect(await presence.isConnected(session.id)).toBe(true);
    await presence.disconnected(session.id, 'c2');
    expect(await presence.isConnected(session.id)).toBe(false);
  });

  it('goes with the session', async () => {
    await presence.connected(session.id, 'c1', 1_000);
    await store.remove(session.id);
    expect(await presence.isConnected(session.id)).toBe(false);
  });

  it('refuses any session store but the memory one', () => {
    expect(() => new MemoryPresence({} as MemorySessionStore)).toThrow(/memory session store/);
  });
});
