import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { SessionModule } from '../session/session.module';
import { EventCatalogue } from '../catalogue/catalogue';
import { EventRouter } from './event-router';
import { IngressController } from './ingress.controller';
import { IngressStreamConsumer } from './ingress-stream';
import { Metrics } from '../infra/metrics/metrics';
import { RedisConnection } from '../infra/redis/redis-connection';
import { SubscriptionCache } from '../subscriptions/subscription-cache';
import { SubscriptionController } from '../subscriptions/subscription.controller';
import { SubscriptionService } from '../subscriptions/subscription.service';

@Module({
  imports: [SessionModule],
  controllers: [SubscriptionController, IngressController],
  providers: [
    SubscriptionService,
    SubscriptionCache,
    EventRouter,
    {
      // Only with Redis: the telephony core may XADD to vora:ingress instead of POSTing.
      provide: IngressStreamConsumer,
      inject: [{ token: RedisConnection, optional: true }, EventCatalogue, EventRouter, Metrics],
      useFactory: (redis: RedisConnection | undefined, catalogue: EventCatalogue, router: EventRouter, metrics: Metrics) =>
        redis ? new IngressStreamConsumer(redis, catalogue, router, metrics) : null,
    },
    {
      provide: EventCatalogue,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) => EventCatalogue.fromFile(config.eventsFile),
    },
  ],
  exports: [SubscriptionService, EventCatalogue, EventRouter, SessionModule],
})
export class EventsModule {}
