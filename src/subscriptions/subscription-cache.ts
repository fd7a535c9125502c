import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ClientMode } from '../auth/modes';
import { ClusterEvents } from '../cluster/cluster-events';
import { Interned } from '../common/interned';
import { SubscriptionService } from './subscription.service';

/**
 * An entry expires at a random age between these: the bus keeps the cache
 * right, the age only bounds a missed bus message. Random, so that entries
 * loaded together (every socket after a restart) are not reloaded together:
 * 10,000 misses at once held routing back for a few hundred milliseconds.
 */
const MIN_AGE_MS = 60_000;
const MAX_AGE_MS = 120_000;

/** The effective subscription of one (sub, identity, mode). */
interface Cached {
  readonly sub: string;
  readonly mode: ClientMode;
  readonly events: ReadonlySet<string>;
  readonly expiresAt: number;
}

/** The entries of one identity: nearly always one, so an array only when a second comes. */
type Entries = Cached | Cached[];

/**
 * Effective subscriptions for routing, so that an event does not cost a store
 * read per recipient. A change anywhere in the cluster evicts the entry at
 * once (cluster bus); the age limit only bounds a missed bus message.
 */
@Injectable()
export class SubscriptionCache implements OnModuleInit, OnModuleDestroy {
  /**
   * By identity, then a scan of its few entries. The router asks per event and
   * recipient, so what one check touches is kept small: one map lookup and a
   * set most entries share (nearly every session subscribes to all it may
   * receive), rather than nested maps and a set per entry, which at 10,000
   * sessions cost four times as much in cache misses. Entries older
   * than MAX_AGE_MS count as absent and are swept, so sessions that end without
   * a logout (idle expiry) do not leave entries behind.
   */
  private readonly entries = new Map<string, Entries>();
  /** One set per distinct list of events, so that the sets routing reads stay few (and in cache). */
  private readonly sharedSets = new Interned<ReadonlySet<string>>();
  private readonly sweeper = setInterval(() => this.sweep(), MIN_AGE_MS);
  /** Bumped on every eviction, so that a load that raced an eviction is not cached. */
  private generation = 0;

  constructor(
    private readonly subscriptions: SubscriptionService,
    private readonly cluster: ClusterEvents,
  ) {
    this.sweeper.unref();
  }

  async onModuleInit(): Promise<void> {
    await this.cluster.listen('SubscriptionChanged', ({ sub, identity }) => this.forget(sub, identity));
    // A logout deletes the subscription and a later setup starts from subscribeAll: no instance may keep the old one.
    await this.cluster.listen('SessionEnded', ({ sub, identity }) => this.forget(sub, identity));
    // Evictions may have been missed.
    this.cluster.onResync(() => this.clear());
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async allows(sub: string, identity: string, mode: ClientMode, event: string): Promise<boolean> {
    return this.allowsCached(sub, identity, mode, event) ?? (await this.load(sub, identity, mode)).has(event);
  }

  /** The answer when the cache has it, without a promise (the router asks per event and recipient); else undefined. */
  allowsCached(sub: string, identity: string, mode: ClientMode, event: string, now = Date.now()): boolean | undefined {
    const cached = find(this.entries.get(identity), sub, mode);
    return cached && now < cached.expiresAt ? cached.events.has(event) : undefined;
  }

  /** Evicts a (sub, identity): on a change, and when its session ends so the cache tracks live sessions. */
  forget(sub: string, identity: string): void {
    this.generation++;
    this.keep(identity, (cached) => cached.sub !== sub);
  }

  /** Evicts everything, for when evictions may have been missed. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  private async load(sub: string, identity: string, mode: ClientMode): Promise<ReadonlySet<string>> {
    const generation = this.generation;
    const effective = await this.subscriptions.current(sub, identity, mode);
    const age = MIN_AGE_MS + Math.random() * (MAX_AGE_MS - MIN_AGE_MS);
    const events = this.sharedSets.get(effective.events.join(','), () => new Set(effective.events));
    const cached: Cached = { sub, mode, events, expiresAt: Date.now() + age };
    if (generation === this.generation) {
      const others = this.keep(identity, (entry) => entry.sub !== sub || entry.mode !== mode);
      this.entries.set(identity, others === undefined ? cached : Array.isArray(others) ? [...others, cached] : [others, cached]);
    }
    return cached.events;
  }

  /**
   * Keeps the identity's entries that pass `test` and returns them. A new array
   * rather than a change in place: the router may be reading the old one.
   */
  private keep(identity: string, test: (cached: Cached) => boolean): Entries | undefined {
    const found = this.entries.get(identity);
    const kept = found === undefined ? [] : Array.isArray(found) ? found.filter(test) : [found].filter(test);
    if (kept.length === 0) this.entries.delete(identity);
    else this.entries.set(identity, kept.length === 1 ? kept[0] : kept);
    return this.entries.get(identity);
  }

  private sweep(): void {
    const now = Date.now();
    const live = (cached: Cached) => now < cached.expiresAt;
    // Only identities with an expired entry get a new array: the sweep runs over every identity.
    // keep() only replaces or deletes the entry at hand, which a Map's iteration allows.
    for (const [identity, entries] of this.entries) {
      if (Array.isArray(entries) ? !entries.every(live) : !live(entries)) this.keep(identity, live);
    }
  }
}

function find(entries: Entries | undefined, sub: string, mode: ClientMode): Cached | undefined {
  if (entries === undefined) return undefined;
  if (!Array.isArray(entries)) return entries.sub === sub && entries.mode === mode ? entries : undefined;
  for (const cached of entries) if (cached.sub === sub && cached.mode === mode) return cached;
  return undefined;
}
