import { MemorySubscriptionStore } from './memory-subscription.store';
import { SUBSCRIBE_ALL } from './subscription.store';

const CHOSEN = { subscribeAll: false, events: ['CallDelivered'] };

describe('MemorySubscriptionStore', () => {
  let store: MemorySubscriptionStore;
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-28T10:00:00Z') });
    store = new MemorySubscriptionStore();
  });
  afterEach(() => {
    store.onModuleDestroy();
    jest.useRealTimers();
  });

  it('keeps one subscription per (sub, identity)', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 60);
    expect(await store.get('alice', '+905321110001')).toEqual(CHOSEN);
    expect(await store.get('alice', '+902121110001')).toBeUndefined();
    expect(await store.get('bob', '+905321110001')).toBeUndefined();
  });

  it('does not confuse keys that concatenate alike', async () => {
    await store.put('ab', 'c', CHOSEN, 60);
    expect(await store.get('a', 'bc')).toBeUndefined();
  });

  it('put replaces', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 60);
    await store.put('alice', '+905321110001', SUBSCRIBE_ALL, 60);
    expect(await store.get('alice', '+905321110001')).toEqual(SUBSCRIBE_ALL);
  });

  it('putIfAbsent keeps an existing subscription and refreshes its ttl', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 1);
    jest.advanceTimersByTime(900);
    await store.putIfAbsent('alice', '+905321110001', SUBSCRIBE_ALL, 1);
    expect(await store.get('alice', '+905321110001')).toEqual(CHOSEN);
    jest.advanceTimersByTime(900);
    expect(await store.get('alice', '+905321110001')).toEqual(CHOSEN);
  });

  it('putIfAbsent stores when there is none, or the old one expired', async () => {
    await store.putIfAbsent('alice', '+905321110001', SUBSCRIBE_ALL, 1);
    expect(await store.get('alice', '+905321110001')).toEqual(SUBSCRIBE_ALL);
    await store.put('bob', '+905321110002', CHOSEN, 1);
    jest.advanceTimersByTime(1000);
    await store.putIfAbsent('bob', '+905321110002', SUBSCRIBE_ALL, 1);
    expect(await store.get('bob', '+905321110002')).toEqual(SUBSCRIBE_ALL);
  });

  it('expires ttlS after the last put or touch', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 1);
    jest.advanceTimersByTime(999);
    await store.touch('alice', '+905321110001', 1);
    jest.advanceTimersByTime(999);
    expect(await store.get('alice', '+905321110001')).toEqual(CHOSEN);
    jest.advanceTimersByTime(1);
    expect(await store.get('alice', '+905321110001')).toBeUndefined();
  });

  it('touch does not bring back an expired subscription', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 1);
    jest.advanceTimersByTime(1000);
    await store.touch('alice', '+905321110001', 60);
    expect(await store.get('alice', '+905321110001')).toBeUndefined();
  });

  it('delete removes it, and deleting twice is harmless', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 60);
    await store.delete('alice', '+905321110001');
    await store.delete('alice', '+905321110001');
    expect(await store.get('alice', '+905321110001')).toBeUndefined();
  });

  it('keeps the subscriptions of several callers of one identity apart', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 60);
    await store.put('bob', '+905321110001', SUBSCRIBE_ALL, 60);
    await store.put('carol', '+905321110001', CHOSEN, 60);
    await store.delete('bob', '+905321110001');
    expect(await store.get('alice', '+905321110001')).toEqual(CHOSEN);
    expect(await store.get('bob', '+905321110001')).toBeUndefined();
    expect(await store.get('carol', '+905321110001')).toEqual(CHOSEN);
  });

  it('frees expired subscriptions on the periodic sweep, and only those', async () => {
    await store.put('alice', '+905321110001', CHOSEN, 1);
    await store.put('bob', '+905321110001', CHOSEN, 60);
    await store.put('carol', '+905321110001', CHOSEN, 1);
    await store.put('dave', '+902121110001', CHOSEN, 1);
    jest.advanceTimersByTime(10_000);
    const { byIdentity } = store as unknown as { byIdentity: Map<string, { sub: string; next?: unknown }> };
    expect(byIdentity.size).toBe(1);
    expect(byIdentity.get('+905321110001')).toMatchObject({ sub: 'bob', next: undefined });
    expect(await store.get('bob', '+905321110001')).toEqual(CHOSEN);
  });
});
