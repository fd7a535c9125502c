import { Injectable } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { ClusterBus } from './cluster-events';

/** Topics are Redis pub/sub channels of the same name; every instance subscribes on its own connection. */
@Injectable()
export class RedisClusterBus extends ClusterBus {
  constructor(private readonly connection: RedisConnection) {
    super();
  }

  async publish(topic: string, message: string): Promise<void> {
    await viaRedis(() => this.connection.client.publish(topic, message));
  }

  async subscribe(topic: string, handler: (message: string) => void): Promise<void> {
    await this.connection.subscribe(topic, handler);
  }
}
