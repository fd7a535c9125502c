import { Module } from '@nestjs/common';
import { CatalogueModule } from '../catalogue/catalogue.module';
import { IdentityModule } from '../identity/identity.module';
import { ClusterModule } from '../cluster/cluster.module';
import { byStore } from '../infra/store-adapter';
import { SessionModule } from '../session/session.module';
import { SubscriptionsModule } from '../subscriptions/subscriptions.module';
import { DeliveryBus } from './delivery-bus';
import { EventBufferStore } from './event-buffer.store';
import { EventRouter } from './event-router';
import { IngressController } from './ingress.controller';
import { IngressStream, IngressStreamConsumer, NoIngressStream } from './ingress-stream';
import { MemoryDeliveryBus } from './memory-delivery-bus';
import { MemoryEventBufferStore } from './memory-event-buffer.store';
import { RedisDeliveryBus } from './redis-delivery-bus';
import { RedisEventBufferStore } from './redis-event-buffer.store';
import { RoutingTable } from './routing-table';

@Module({
  imports: [CatalogueModule, ClusterModule, IdentityModule, SessionModule, SubscriptionsModule],
  controllers: [IngressController],
  providers: [
    EventRouter,
    RoutingTable,
    byStore(EventBufferStore, { memory: MemoryEventBufferStore, redis: RedisEventBufferStore }),
    byStore(DeliveryBus, { memory: MemoryDeliveryBus, redis: RedisDeliveryBus }),
    // With Redis the telephony core may XADD to vora:ingress instead of POSTing.
    byStore(IngressStream, { memory: NoIngressStream, redis: IngressStreamConsumer }),
  ],
  exports: [EventRouter, EventBufferStore, DeliveryBus],
})
export class EventsModule {}
