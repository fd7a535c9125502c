import { ClientMode } from '../auth/modes';
import { MemoryClusterEvents } from '../cluster/memory-cluster-events';
import { SubscriptionCache } from './subscription-cache';
import { EffectiveSubscription } from './subscription.dto';
import { SubscriptionService } from './subscription.service';

const ALICE = '+905321110001';

describe('SubscriptionCache', () => {
  /** What the store holds, by `${sub} ${identity} ${mode}`; loads are counted. */
  let stored: Map<string, string[]>;
  let loads: number;
  /** While set, loads wait for it. */
  let gate: Promise<void> | undefined;
  let cache: SubscriptionCache;

  beforeEach(() => {
    stored = new Map();
    loads = 0;
    gate = undefined;
    const service = {
      current: async (sub: string, identity: string, mode: ClientMode): Promise<EffectiveSubscription> => {
        loads++;
        await gate;
        return { subscribeAll: false, events: stored.get(`${sub} ${identity} ${mode}`) ?? [] };
      },
    } as unknown as SubscriptionService;
    cache = new SubscriptionCache(service, new MemoryClusterEvents());
  });

  afterEach(() => cache.onModuleDestroy());

  it('answers each (sub, identity, mode) of one identity from its own subscription', async () => {
    stored.set(`alice ${ALICE} user`, ['CallDelivered']);
    stored.set(`alice ${ALICE} manager`, ['PresenceChanged']);
    stored.set(`carol ${ALICE} user`, ['CallCleared']);
    expect(await cache.allows('alice', ALICE, 'user', 'CallDelivered')).toBe(true);
    expect(await cache.allows('alice', ALICE, 'manager', 'CallDelivered')).toBe(false);
    expect(await cache.allows('carol', ALICE, 'user', 'CallCleared')).toBe(true);
    expect(cache.allowsCached('alice', ALICE, 'user', 'CallCleared')).toBe(false);
    expect(cache.allowsCached('alice', ALICE, 'manager', 'PresenceChanged')).toBe(true);
    expect(cache.allowsCached('carol', ALICE, 'user', 'CallDelivered')).toBe(false);
    expect(cache.allowsCached('bob', ALICE, 'user', 'CallDelivered')).toBeUndefined();
    expect(loads).toBe(3);
  });

  it('forgets one sub of an identity and keeps the others', async () => {
    stored.set(`alice ${ALICE} user`, ['CallDelivered']);
    stored.set(`carol ${ALICE} user`, ['CallDelivered']);
    await cache.allows('alice', ALICE, 'user', 'CallDelivered');
    await cache.allows('alice', ALICE, 'manager', 'CallDelivered');
    await cache.allows('carol', ALICE, 'user', 'CallDelivered');
    cache.forget('alice', ALICE);
    expect(cache.allowsCached('alice', ALICE, 'user', 'CallDelivered')).toBeUndefined();
    expect(cache.allowsCached('alice', ALICE, 'manager', 'CallDelivered')).toBeUndefined();
    expect(cache.allowsCached('carol', ALICE, 'user', 'CallDelivered')).toBe(true);
  });

  it('reloads an entry loaded again, and counts it absent at a random age between 60 and 120 s', async () => {
    stored.set(`alice ${ALICE} user`, ['CallDelivered']);
    await cache.allows('alice', ALICE, 'user', 'CallDelivered');
    stored.set(`alice ${ALICE} user`, ['CallCleared']);
    cache.forget('alice', ALICE);
    expect(await cache.allows('alice', ALICE, 'user', 'CallCleared')).toBe(true);
    expect(cache.allowsCached('alice', ALICE, 'user', 'CallDelivered', Date.now() + 59_000)).toBe(false);
    expect(cache.allowsCached('alice', ALICE, 'user', 'CallDelivered', Date.now() + 120_001)).toBeUndefined();
  });

  it('spreads the expiry of entries loaded together over 60 to 120 s', async () => {
    const loadedAt = Date.now();
    const identities = Array.from({ length: 200 }, (_, i) => `+9053299${String(i).padStart(5, '0')}`);
    for (const identity of identities) await cache.allows('alice', identity, 'user', 'CallDelivered');
    const cachedAt = (ms: number) => identities.filter((identity) => cache.allowsCached('alice', identity, 'user', 'CallDelivered', loadedAt + ms) !== undefined).length;
    expect(cachedAt(59_900)).toBe(200);
    expect(cachedAt(90_000)).toBeGreaterThan(50);
    expect(cachedAt(90_000)).toBeLessThan(150);
    expect(cachedAt(120_100)).toBe(0);
  });

  it('does not keep a load that raced an eviction', async () => {
    stored.set(`alice ${ALICE} user`, ['CallDelivered']);
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    const loading = cache.allows('alice', ALICE, 'user', 'CallDelivered');
    cache.forget('alice', ALICE);
    open();
    expect(await loading).toBe(true);
    expect(cache.allowsCached('alice', ALICE, 'user', 'CallDelivered')).toBeUndefined();
  });
});
