import { Test } from '@nestjs/testing';
import { ConfigModule } from '../config/config.module';
import { loadConfig } from '../config/load-config';
import { RedisModule } from '../infra/redis/redis.module';
import { MetricsModule } from '../metrics/metrics.module';
import { SessionModule } from './session.module';
import { MemoryPresenceStore } from './memory-presence.store';
import { MemorySessionStore } from './memory-session.store';
import { PresenceStore } from './presence.store';
import { Session } from './session';
import { SessionStore } from './session.store';

const session: Session = {
  id: 'session-1',
  sub: 'alice',
  mode: 'user',
  identity: '+905321110001',
  connectionType: 'WEB',
  holdUpMode: false,
  tokenHash: 'hash-1',
  createdAt: '2026-11-28T10:00:00.000Z',
  expiresAt: '2999-01-01T00:00:00.000Z',
};

const at = (connectionId: string) => ({ instanceId: 'i1', connectionId });
const holderOf = async (presence: PresenceStore, sessionId: string) => (await presence.holdersOf([sessionId]))[0];

describe('MemoryPresenceStore', () => {
  let store: MemorySessionStore;
  let presence: MemoryPresenceStore;
  beforeEach(async () => {
    jest.useFakeTimers({ now: new Date('2026-11-28T10:00:00Z') });
    store = new MemorySessionStore();
    presence = new MemoryPresenceStore(store);
    await store.open(session, { ttlS: 60, maxPerUser: 3 });
  });
  afterEach(() => {
    store.onModuleDestroy();
    jest.useRealTimers();
  });

  it('knows where the socket is for ttlMs after the last connected()', async () => {
    expect(await holderOf(presence, session.id)).toBeUndefined();
    await presence.connected(session.id, at('c1'), 1_000);
    jest.advanceTimersByTime(999);
    expect(await holderOf(presence, session.id)).toEqual(at('c1'));
    await presence.connected(session.id, at('c1'), 1_000);
    jest.advanceTimersByTime(999);
    expect(await holderOf(presence, session.id)).toEqual(at('c1'));
    jest.advanceTimersByTime(1);
    expect(await holderOf(presence, session.id)).toBeUndefined();
  });

  it('forgets the socket on disconnected(), unless a newer socket took over', async () => {
    await presence.connected(session.id, at('c1'), 1_000);
    await presence.connected(session.id, at('c2'), 1_000);
    await presence.disconnected(session.id, at('c1'));
    expect(await holderOf(presence, session.id)).toEqual(at('c2'));
    await presence.disconnected(session.id, at('c2'));
    expect(await holderOf(presence, session.id)).toBeUndefined();
  });

  it('answers for many sessions at once, aligned, unknown ones included', async () => {
    await presence.connected(session.id, at('c1'), 1_000);
    expect(await presence.holdersOf(['nobody', session.id])).toEqual([undefined, at('c1')]);
  });

  it('goes with the session', async () => {
    await presence.connected(session.id, at('c1'), 1_000);
    await store.remove(session.id);
    expect(await holderOf(presence, session.id)).toBeUndefined();
  });
});

describe('MemoryPresenceStore in the session module (STORE=memory)', () => {
  it('keeps presence in the records of the store the SessionStore port serves', async () => {
    const config = loadConfig({ STORE: 'memory' });
    const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), MetricsModule, RedisModule.forRoot(config), SessionModule] }).compile();
    try {
      const sessions = moduleRef.get(SessionStore);
      expect(sessions).toBeInstanceOf(MemorySessionStore);
      await sessions.open(session, { ttlS: 60, maxPerUser: 3 });
      const presence = moduleRef.get(PresenceStore);
      await presence.connected(session.id, at('c1'), 1_000);
      expect(await holderOf(presence, session.id)).toEqual(at('c1'));
      await sessions.remove(session.id);
      expect(await holderOf(presence, session.id)).toBeUndefined();
    } finally {
      await moduleRef.close();
    }
  });
});
