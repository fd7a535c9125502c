import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { SessionModule } from '../session/session.module';
import { EventCatalogue } from './catalogue';
import { SubscriptionController } from './subscription.controller';
import { SubscriptionService } from './subscription.service';

@Module({
  imports: [SessionModule],
  controllers: [SubscriptionController],
  providers: [
    SubscriptionService,
    {
      provide: EventCatalogue,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) => EventCatalogue.fromFile(config.eventsFile),
    },
  ],
  exports: [SubscriptionService, EventCatalogue, SessionModule],
})
export class EventsModule {}
