import { Module } from '@nestjs/common';
import { CatalogueModule } from '../catalogue/catalogue.module';
import { ClusterModule } from '../cluster/cluster.module';
import { IdentityModule } from '../identity/identity.module';
import { byStore } from '../infra/store-adapter';
import { SessionModule } from '../session/session.module';
import { MemorySubscriptionStore } from './memory-subscription.store';
import { RedisSubscriptionStore } from './redis-subscription.store';
import { SubscriptionCache } from './subscription-cache';
import { SubscriptionController } from './subscription.controller';
import { SubscriptionService } from './subscription.service';
import { SubscriptionStore } from './subscription.store';

/** eventSubscription: what each (caller, identity) receives, stored, cached for routing, and changed by its route. */
@Module({
  imports: [CatalogueModule, ClusterModule, IdentityModule, SessionModule],
  controllers: [SubscriptionController],
  providers: [
    SubscriptionService,
    SubscriptionCache,
    byStore(SubscriptionStore, { memory: MemorySubscriptionStore, redis: RedisSubscriptionStore }),
  ],
  exports: [SubscriptionService, SubscriptionCache],
})
export class SubscriptionsModule {}
