import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ClientMode } from '../auth/modes';
import { ClusterBus } from '../common/cluster-bus';
import { SESSION_CLOSED_TOPIC, SessionClosed } from '../session/session-events';
import { SUBSCRIPTION_CHANGED_TOPIC, SubscriptionChanged, SubscriptionService } from './subscription.service';

const MAX_AGE_MS = 30_000;

interface Cached {
  readonly events: ReadonlySet<string>;
  readonly loadedAt: number;
}

/**
 * Effective subscriptions for routing, so that an event does not cost a store
 * read per recipient. A change anywhere in the cluster evicts the entry at
 * once (cluster bus); the age limit only bounds a missed bus message.
 */
@Injectable()
export class SubscriptionCache implements OnModuleInit, OnModuleDestroy {
  /**
   * identity → sub → mode → effective events; sessions of one identity may
   * differ in mode. Nested maps rather than a (sub, identity) key: the router
   * asks per event and recipient, and building a key string each time cost
   * more than the lookups. Entries older than MAX_AGE_MS count as absent and
   * are swept, so sessions that end without a logout (idle expiry) do not
   * leave entries behind.
   */
  private readonly entries = new Map<string, Map<string, Map<ClientMode, Cached>>>();
  private readonly sweeper = setInterval(() => this.sweep(), MAX_AGE_MS);
  /** Bumped on every eviction, so that a load that raced an eviction is not cached. */
  private generation = 0;

  constructor(
    private readonly subscriptions: SubscriptionService,
    private readonly bus: ClusterBus,
  ) {
    this.sweeper.unref();
  }

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(SUBSCRIPTION_CHANGED_TOPIC, (message) => {
      const { sub, identity } = JSON.parse(message) as SubscriptionChanged;
      this.forget(sub, identity);
    });
    // A logout deletes the subscription and a later setup starts from subscribeAll: no instance may keep the old one.
    await this.bus.subscribe(SESSION_CLOSED_TOPIC, (message) => {
      const { sub, identity } = JSON.parse(message) as SessionClosed;
      this.forget(sub, identity);
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async allows(sub: string, identity: string, mode: ClientMode, event: string): Promise<boolean> {
    return this.allowsCached(sub, identity, mode, event) ?? (await this.load(sub, identity, mode)).has(event);
  }

  /** The answer when the cache has it, without a promise (the router asks per event and recipient); else undefined. */
  allowsCached(sub: string, identity: string, mode: ClientMode, event: string, now = Date.now()): boolean | undefined {
    const cached = this.entries.get(identity)?.get(sub)?.get(mode);
    return cached && now - cached.loadedAt <= MAX_AGE_MS ? cached.events.has(event) : undefined;
  }

  /** Evicts a (sub, identity): on a change, and when its session ends so the cache tracks live sessions. */
  forget(sub: string, identity: string): void {
    this.generation++;
    const bySub = this.entries.get(identity);
    if (bySub?.delete(sub) && bySub.size === 0) this.entries.delete(identity);
  }

  private async load(sub: string, identity: string, mode: ClientMode): Promise<ReadonlySet<string>> {
    const generation = this.generation;
    const effective = await this.subscriptions.current(sub, identity, mode);
    const cached = { events: new Set(effective.events), loadedAt: Date.now() };
    if (generation === this.generation) {
      let bySub = this.entries.get(identity);
      if (!bySub) this.entries.set(identity, (bySub = new Map()));
      let byMode = bySub.get(sub);
      if (!byMode) bySub.set(sub, (byMode = new Map()));
      byMode.set(mode, cached);
    }
    return cached.events;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [identity, bySub] of this.entries) {
      for (const [sub, byMode] of bySub) {
        for (const [mode, cached] of byMode) if (now - cached.loadedAt > MAX_AGE_MS) byMode.delete(mode);
        if (byMode.size === 0) bySub.delete(sub);
      }
      if (bySub.size === 0) this.entries.delete(identity);
    }
  }
}
