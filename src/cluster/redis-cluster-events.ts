import { Injectable } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { CLUSTER_CHANNELS, ClusterEventMap, ClusterEventName, ClusterEvents, ClusterListener } from './cluster-events';

/** Each event name is a Redis pub/sub channel (CLUSTER_CHANNELS) carrying JSON; every instance listens on its own connection. */
@Injectable()
export class RedisClusterEvents extends ClusterEvents {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async publish<Name extends ClusterEventName>(name: Name, event: ClusterEventMap[Name]): Promise<void> {
    const message = JSON.stringify(event);
    await viaRedis(() => this.redis.client.publish(CLUSTER_CHANNELS[name], message));
  }

  async listen<Name extends ClusterEventName>(name: Name, listener: ClusterListener<Name>): Promise<void> {
    // Only instances of this gateway publish on these channels, with publish() above.
    await this.redis.subscribe(CLUSTER_CHANNELS[name], (message) => listener(JSON.parse(message) as ClusterEventMap[Name]));
  }
}
