import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { EventCatalogue } from './catalogue';

/** The event catalogue (EVENTS_FILE): what may be published, and to which modes. */
@Module({
  providers: [
    {
      provide: EventCatalogue,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) => EventCatalogue.fromFile(config.eventsFile),
    },
  ],
  exports: [EventCatalogue],
})
export class CatalogueModule {}
