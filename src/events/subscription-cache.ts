import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ClientMode } from '../auth/modes';
import { ClusterBus } from '../common/cluster-bus';
import { ExpiringMap } from '../common/expiring-map';
import { SESSION_CLOSED_TOPIC, SessionClosed } from '../session/session-events';
import { SUBSCRIPTION_CHANGED_TOPIC, SubscriptionChanged, SubscriptionService } from './subscription.service';

const MAX_AGE_MS = 30_000;
const keyOf = (sub: string, identity: string) => `${sub}\u0000${identity}`;

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
   * (sub, identity) → mode → effective events; sessions of one identity may
   * differ in mode. Entries expire, so sessions that end without a logout
   * (idle expiry) do not leave entries behind.
   */
  private readonly entries = new ExpiringMap<string, Map<ClientMode, Cached>>(MAX_AGE_MS);
  /** Bumped on every eviction, so that a load that raced an eviction is not cached. */
  private generation = 0;

  constructor(
    private readonly subscriptions: SubscriptionService,
    private readonly bus: ClusterBus,
  ) {}

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
    this.entries.close();
  }

  async allows(sub: string, identity: string, mode: ClientMode, event: string): Promise<boolean> {
    return this.allowsCached(sub, identity, mode, event) ?? (await this.load(sub, identity, mode)).has(event);
  }

  /** The answer when the cache has it, without a promise (the router asks per event and recipient); else undefined. */
  allowsCached(sub: string, identity: string, mode: ClientMode, event: string): boolean | undefined {
    const cached = this.entries.get(keyOf(sub, identity))?.get(mode);
    return cached && Date.now() - cached.loadedAt <= MAX_AGE_MS ? cached.events.has(event) : undefined;
  }

  private async load(sub: string, identity: string, mode: ClientMode): Promise<ReadonlySet<string>> {
    const generation = this.generation;
    const effective = await this.subscriptions.current(sub, identity, mode);
    const cached = { events: new Set(effective.events), loadedAt: Date.now() };
    if (generation === this.generation) {
      const key = keyOf(sub, identity);
      let byMode = this.entries.get(key);
      if (!byMode) this.entries.set(key, (byMode = new Map()), MAX_AGE_MS);
      byMode.set(mode, cached);
    }
    return cached.events;
  }

  /** Evicts a (sub, identity): on a change, and when its session ends so the cache tracks live sessions. */
  forget(sub: string, identity: string): void {
    this.generation++;
    this.entries.delete(keyOf(sub, identity));
  }
}
