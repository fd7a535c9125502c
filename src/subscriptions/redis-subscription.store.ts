import { Injectable } from '@nestjs/common';
import { execPipeline, RedisConnection, userKey, viaRedis } from '../infra/redis/redis-connection';
import { isBoolean, isStringArray, isWrongType, Malformed, readJsonRecord } from '../infra/redis/stored-value';
import { StoredSubscription, SubscriptionStore } from './subscription.store';

/** STRING → subscription JSON, in the user's slot next to its sessions. */
const keyOf = (sub: string, identity: string): string => userKey(sub, `sub:${identity}`);

const SUBSCRIPTION_SHAPE = { subscribeAll: isBoolean, events: isStringArray };

@Injectable()
export class RedisSubscriptionStore extends SubscriptionStore {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  /** Undefined when there is none, or when what is stored is not a subscription (reported: the caller's default applies). */
  async get(sub: string, identity: string): Promise<StoredSubscription | undefined> {
    const key = keyOf(sub, identity);
    let json: string | null;
    try {
      json = await viaRedis(() => this.redis.client.get(key));
    } catch (error) {
      if (!isWrongType(error)) throw error;
      return this.bad(key, 'the key holds another type');
    }
    if (json === null) return undefined;
    const subscription = readJsonRecord<StoredSubscription>(json, SUBSCRIPTION_SHAPE);
    return subscription instanceof Malformed ? this.bad(key, subscription.problem) : subscription;
  }

  async put(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void> {
    await viaRedis(() => this.redis.client.set(keyOf(sub, identity), encode(subscription), 'PX', ttlS * 1000));
  }

  async putIfAbsent(sub: string, identity: string, subscription: StoredSubscription, ttlS: number): Promise<void> {
    const key = keyOf(sub, identity);
    // SET NX keeps a subscription that exists; the PEXPIRE after it refreshes the TTL either way.
    await execPipeline(
      this.redis.client.pipeline().set(key, encode(subscription), 'PX', ttlS * 1000, 'NX').pexpire(key, ttlS * 1000),
    );
  }

  /** In the heartbeat's pipeline, with every other socket's. */
  async touch(sub: string, identity: string, ttlS: number): Promise<void> {
    const key = keyOf(sub, identity);
    await this.redis.inTurn(key, (pipeline) => pipeline.pexpire(key, ttlS * 1000));
  }

  async delete(sub: string, identity: string): Promise<void> {
    await viaRedis(() => this.redis.client.del(keyOf(sub, identity)));
  }

  private bad(key: string, problem: string): undefined {
    this.redis.badValue('subscription', key, problem);
    return undefined;
  }
}

const encode = (subscription: StoredSubscription): string =>
  JSON.stringify({ subscribeAll: subscription.subscribeAll, events: subscription.events });
