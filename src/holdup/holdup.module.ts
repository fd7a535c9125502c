import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { EventsModule } from '../events/events.module';
import { byStore } from '../infra/store-adapter';
import { SessionModule } from '../session/session.module';
import { HoldUpService } from './holdup.service';
import { MemoryPendingCallStore } from './memory-pending-calls.store';
import { FanOutOutcomeReporter, OutcomeReporter, WebhookOutcomeReporter } from './outcome-reporter';
import { PendingCallStore } from './pending-calls.store';
import { NoPushSender, PushSender, WebhookPushSender } from './push-sender';
import { RedisPendingCallStore } from './redis-pending-calls.store';
import { NoOutcomeStream, OutcomeStream, StreamOutcomeReporter } from './stream-outcome-reporter';

@Module({
  imports: [EventsModule, SessionModule],
  providers: [
    HoldUpService,
    byStore(PendingCallStore, { memory: MemoryPendingCallStore, redis: RedisPendingCallStore }),
    byStore(OutcomeStream, { memory: NoOutcomeStream, redis: StreamOutcomeReporter }),
    {
      provide: PushSender,
      inject: [GatewayConfig],
      useFactory: ({ holdUp: { push } }: GatewayConfig) => (push.adapter === 'webhook' ? new WebhookPushSender(push) : new NoPushSender()),
    },
    {
      provide: OutcomeReporter,
      inject: [GatewayConfig, OutcomeStream],
      useFactory: (config: GatewayConfig, stream: OutcomeStream) => {
        const reporters: OutcomeReporter[] = [];
        if (config.holdUp.callback) reporters.push(new WebhookOutcomeReporter(config.holdUp.callback));
        reporters.push(stream);
        return new FanOutOutcomeReporter(reporters);
      },
    },
  ],
  exports: [HoldUpService],
})
export class HoldUpModule {}
