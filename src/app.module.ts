import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AsyncApiModule } from './asyncapi/asyncapi.module';
import { AuthModule } from './auth/auth.module';
import { AllExceptionsFilter } from './http/all-exceptions.filter';
import { BodyPipe } from './http/body.pipe';
import { ConfigModule } from './config/config.module';
import { ConsoleModule } from './console/console.module';
import { GatewayConfig } from './config/gateway-config';
import { EventsModule } from './events/events.module';
import { GatewayModule } from './gateway/gateway.module';
import { HealthModule } from './health/health.module';
import { IdentityModule } from './identity/identity.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LimitsModule } from './limits/limits.module';
import { MetricsModule } from './metrics/metrics.module';
import { SessionModule } from './session/session.module';
import { RedisModule } from './infra/redis/redis.module';
import { SubscriptionsModule } from './subscriptions/subscriptions.module';

@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        RedisModule.forRoot(config),
        AuthModule.forRoot(config),
        LimitsModule,
        IdentityModule,
        SessionModule,
        SubscriptionsModule,
        EventsModule,
        GatewayModule,
        AsyncApiModule,
        ...(config.console ? [ConsoleModule] : []),
        HealthModule,
        LifecycleModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useClass: BodyPipe },
      ],
    };
  }
}
