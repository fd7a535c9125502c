import { Injectable } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { ClusterEvents } from './cluster-events';

/** Topics are Redis pub/sub channels of the same name; every instance subscribes on its own connection. */
@Injectable()
export class RedisClusterEvents extends ClusterEvents {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async publish(topic: string, message: string): Promise<void> {
    await viaRedis(() => this.redis.client.publish(topic, message));
  }

  async subscribe(topic: string, handler: (message: string) => void): Promise<void> {
    await this.redis.subscribe(topic, handler);
  }
}
