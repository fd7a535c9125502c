import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { EventsModule } from '../events/events.module';
import { HoldUpService } from './holdup.service';
import { RedisConnection } from '../infra/redis/redis-connection';
import { FanOutOutcomeReporter, OutcomeReporter, WebhookOutcomeReporter } from './outcome-reporter';
import { StreamOutcomeReporter } from './stream-outcome-reporter';
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
      inject: [GatewayConfig, { token: RedisConnection, optional: true }],
      useFactory: (config: GatewayConfig, redis?: RedisConnection) => {
        const reporters: OutcomeReporter[] = [];
        if (config.holdUp.callback.url) reporters.push(new WebhookOutcomeReporter(config.holdUp.callback));
        if (redis) reporters.push(new StreamOutcomeReporter(redis));
        return new FanOutOutcomeReporter(reporters);
      },
    },
  ],
  exports: [HoldUpService],
})
export class HoldUpModule {}
