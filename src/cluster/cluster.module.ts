import { Module } from '@nestjs/common';
import { byStore } from '../infra/store-adapter';
import { ClusterEvents } from './cluster-events';
import { MemoryClusterEvents } from './memory-cluster-events';
import { RedisClusterEvents } from './redis-cluster-events';

/** Events between gateway instances (see ClusterEvents): local in memory, Redis pub/sub with STORE=redis. */
@Module({
  providers: [byStore(ClusterEvents, { memory: MemoryClusterEvents, redis: RedisClusterEvents })],
  exports: [ClusterEvents],
})
export class ClusterModule {}
