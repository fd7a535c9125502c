import { Module } from '@nestjs/common';
import { byStore } from '../infra/store-adapter';
import { ClusterEvents } from './cluster-events';
import { MemoryClusterEvents } from './memory-cluster-events';
import { Instances } from './instances';
import { MemoryInstances } from './memory-instances';
import { RedisClusterEvents } from './redis-cluster-events';
import { RedisInstances } from './redis-instances';

/** The gateway instances alive and the events between them: local in memory, Redis with STORE=redis. */
@Module({
  providers: [
    byStore(ClusterEvents, { memory: MemoryClusterEvents, redis: RedisClusterEvents }),
    byStore(Instances, { memory: MemoryInstances, redis: RedisInstances }),
  ],
  exports: [ClusterEvents, Instances],
})
export class ClusterModule {}
