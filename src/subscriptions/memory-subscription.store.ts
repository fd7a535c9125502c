import { OnModuleDestroy } from '@nestjs/common';
import { StoredSubscription, SubscriptionStore } from './subscription.store';

const SWEEP_EVERY_MS = 10_000;

/**
 * The subscription of one (sub, identity). Entries are found by identity, a
 * string the sessions hold already, rather than by a key string made per
 * pair; the entries of other callers of the same identity follow in `next`.
 */
class Entry {
  constructor(
    readonly sub: string,
    public subscription: StoredSubscription,
    public expiresAt: number,
    public next: Entry | undefined,
  ) {}
}

/**
 * Subscriptions of a single instance. Expired entries are invisible at once
 * and freed by a periodic sweep.
 */
export class MemorySubscriptionStore extends SubscriptionStore implements OnModuleDestroy {
  private readonly byIdentity = new Map<string, Entry>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS).unref();

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async get(sub: string, identity: string): Promise<StoredSubscription | undefined> {
    return this.live(sub, identity)?.subscription;
  }

  async put(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void> {
    const expiresAt = Date.now() + ttlS * 1000;
    const entry = this.find(sub, identity);
    if (!entry) {
      this.byIdentity.set(identity, new Entry(sub, subscription, expiresAt, this.byIdentity.get(identity)));
      return;
    }
    entry.subscription = subscription;
    entry.expiresAt = expiresAt;
  }

  async putIfAbsent(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void> {
    const entry = this.live(sub, identity);
    if (entry) entry.expiresAt = Date.now() + ttlS * 1000;
    else await this.put(sub, identity, subscription, ttlS);
  }

  async touch(sub: string, identity: string, ttlS: number): Promise<void> {
    const entry = this.live(sub, identity);
    if (entry) entry.expiresAt = Date.now() + ttlS * 1000;
  }

  async delete(sub: string, identity: string): Promise<void> {
    const entry = this.find(sub, identity);
    if (entry) this.unlink(identity, entry);
  }

  /** Frees expired entries (also run by the periodic sweep). */
  sweep(): void {
    const now = Date.now();
    for (const [identity, first] of this.byIdentity) {
      // An unlinked entry keeps its `next`: the walk goes on.
      for (let entry: Entry | undefined = first; entry; entry = entry.next) if (entry.expiresAt <= now) this.unlink(identity, entry);
    }
  }

  /** The entry of (sub, identity), expired or not. */
  private find(sub: string, identity: string): Entry | undefined {
    for (let entry = this.byIdentity.get(identity); entry; entry = entry.next) if (entry.sub === sub) return entry;
    return undefined;
  }

  private live(sub: string, identity: string): Entry | undefined {
    const entry = this.find(sub, identity);
    return entry && entry.expiresAt > Date.now() ? entry : undefined;
  }

  private unlink(identity: string, entry: Entry): void {
    const first = this.byIdentity.get(identity);
    if (first === entry) {
      if (entry.next) this.byIdentity.set(identity, entry.next);
      else this.byIdentity.delete(identity);
      return;
    }
    for (let previous = first; previous; previous = previous.next) {
      if (previous.next === entry) {
        previous.next = entry.next;
        return;
      }
    }
  }
}
