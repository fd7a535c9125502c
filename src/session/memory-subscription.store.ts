import { OnModuleDestroy } from '@nestjs/common';
import { ExpiringMap } from '../common/expiring-map';
import { StoredSubscription, SubscriptionStore } from './subscription.store';

const keyOf = (sub: string, identity: string) => `${sub}\u0000${identity}`;

export class MemorySubscriptionStore extends SubscriptionStore implements OnModuleDestroy {
  private readonly subscriptions = new ExpiringMap<string, StoredSubscription>();

  onModuleDestroy(): void {
    this.subscriptions.close();
  }

  async get(sub: string, identity: string): Promise<StoredSubscription | undefined> {
    return this.subscriptions.get(keyOf(sub, identity));
  }

  async put(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void> {
    this.subscriptions.set(keyOf(sub, identity), subscription, ttlS * 1000);
  }

  async putIfAbsent(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void> {
    const key = keyOf(sub, identity);
    if (!this.subscriptions.touch(key, ttlS * 1000)) this.subscriptions.set(key, subscription, ttlS * 1000);
  }

  async touch(sub: string, identity: string, ttlS: number): Promise<void> {
    this.subscriptions.touch(keyOf(sub, identity), ttlS * 1000);
  }

  async delete(sub: string, identity: string): Promise<void> {
    this.subscriptions.delete(keyOf(sub, identity));
  }
}
