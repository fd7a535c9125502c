import { randomUUID } from 'node:crypto';
import { MemorySubscriptionStore } from '../../src/subscriptions/memory-subscription.store';
import { RedisSubscriptionStore } from '../../src/subscriptions/redis-subscription.store';
import { StoredSubscription, SUBSCRIBE_ALL, SubscriptionStore } from '../../src/subscriptions/subscription.store';
import { eventually } from '../support/eventually';
import { contractAdapters } from '../support/contract-adapters';
import { connectRedis } from '../support/redis-server';

interface Harness {
  store: SubscriptionStore;
  close(): Promise<void>;
}

const adapters = contractAdapters(
  (): Harness => {
    const store = new MemorySubscriptionStore();
    return { store, close: async () => store.onModuleDestroy() };
  },
  async (where): Promise<Harness> => {
    const connection = await connectRedis(where);
    return { store: new RedisSubscriptionStore(connection), close: () => connection.close() };
  },
);

const CALLS: StoredSubscription = { subscribeAll: false, events: ['CallDelivered', 'CallCleared'] };
const PRESENCE: StoredSubscription = { subscribeAll: false, events: ['PresenceChanged'] };

describe.each(adapters)('SubscriptionStore contract: %s', (_name, make) => {
  let harness: Harness;
  let store: SubscriptionStore;
  let sub: string;
  const identity = '+905321110001';
  const other = '+902121110001';

  beforeEach(async () => {
    harness = await make();
    store = harness.store;
    sub = `user-${randomUUID()}`;
  });
  afterEach(async () => {
    await harness.close();
  });

  it('has nothing for a (sub, identity) never stored', async () => {
    expect(await store.get(sub, identity)).toBeUndefined();
  });

  it('stores, reads back and overwrites per (sub, identity)', async () => {
    await store.put(sub, identity, CALLS, 60);
    await store.put(sub, other, SUBSCRIBE_ALL, 60);
    expect(await store.get(sub, identity)).toEqual(CALLS);
    expect(await store.get(sub, other)).toEqual(SUBSCRIBE_ALL);
    expect(await store.get(`someone-${randomUUID()}`, identity)).toBeUndefined();
    await store.put(sub, identity, PRESENCE, 60);
    expect(await store.get(sub, identity)).toEqual(PRESENCE);
  });

  it('putIfAbsent stores when nothing exists and keeps what exists', async () => {
    await store.putIfAbsent(sub, identity, SUBSCRIBE_ALL, 60);
    expect(await store.get(sub, identity)).toEqual(SUBSCRIBE_ALL);
    await store.put(sub, identity, CALLS, 60);
    await store.putIfAbsent(sub, identity, SUBSCRIBE_ALL, 60);
    expect(await store.get(sub, identity)).toEqual(CALLS);
  });

  it('forgets a subscription once its TTL has passed', async () => {
    await store.put(sub, identity, CALLS, 1);
    expect(await store.get(sub, identity)).toEqual(CALLS);
    await eventually(async () => expect(await store.get(sub, identity)).toBeUndefined());
  });

  it('touch extends the TTL, and putIfAbsent refreshes it without overwriting', async () => {
    await store.put(sub, identity, CALLS, 1);
    await store.put(sub, other, PRESENCE, 1);
    const control = `control-${randomUUID()}`;
    await store.put(control, identity, SUBSCRIBE_ALL, 1);
    await store.touch(sub, identity, 60);
    await store.putIfAbsent(sub, other, SUBSCRIBE_ALL, 60);
    await eventually(async () => expect(await store.get(control, identity)).toBeUndefined());
    expect(await store.get(sub, identity)).toEqual(CALLS);
    expect(await store.get(sub, other)).toEqual(PRESENCE);
  });

  it('touch does not create a subscription', async () => {
    await store.touch(sub, identity, 60);
    expect(await store.get(sub, identity)).toBeUndefined();
  });

  it('deletes one (sub, identity) and leaves the others', async () => {
    await store.put(sub, identity, CALLS, 60);
    await store.put(sub, other, PRESENCE, 60);
    await store.delete(sub, identity);
    expect(await store.get(sub, identity)).toBeUndefined();
    expect(await store.get(sub, other)).toEqual(PRESENCE);
    await store.delete(sub, identity);
    await store.putIfAbsent(sub, identity, SUBSCRIBE_ALL, 60);
    expect(await store.get(sub, identity)).toEqual(SUBSCRIBE_ALL);
  });
});
