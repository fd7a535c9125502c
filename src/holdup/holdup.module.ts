import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { EventsModule } from '../events/events.module';
import { HoldUpService } from './holdup.service';
import { FanOutOutcomeReporter, OutcomeReporter, WebhookOutcomeReporter } from './outcome-reporter';
import { NoPushSender, PushSender, WebhookPushSender } from './push-sender';

@Module({
  imports: [EventsModule],
  providers: [
    HoldUpService,
    {
      provide: PushSender,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) =>
        config.holdUp.push.adapter === 'webhook' ? new WebhookPushSender(config.holdUp.push) : new NoPushSender(),
    },
    {
      provide: OutcomeReporter,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) =>
        new FanOutOutcomeReporter(config.holdUp.callback.url ? [new WebhookOutcomeReporter(config.holdUp.callback)] : []),
    },
  ],
  exports: [HoldUpService],
})
export class HoldUpModule {}
