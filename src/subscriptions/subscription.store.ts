/**
 * What a (caller, identity) asked to receive. Shared by every session of that
 * identity; setup creates `{subscribeAll: true}` when none exists.
 */
export interface StoredSubscription {
  readonly subscribeAll: boolean;
  /** The chosen events when subscribeAll is false; empty otherwise. */
  readonly events: readonly string[];
}

export const SUBSCRIBE_ALL: StoredSubscription = { subscribeAll: true, events: [] };

export abstract class SubscriptionStore {
  abstract get(sub: string, identity: string): Promise<StoredSubscription | undefined>;
  abstract put(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void>;
  /** Stores the subscription only if none exists; refreshes the TTL either way. */
  abstract putIfAbsent(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void>;
  abstract touch(sub: string, identity: string, ttlS: number): Promise<void>;
  abstract delete(sub: string, identity: string): Promise<void>;
}
