import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { SessionModule } from '../session/session.module';
import { HealthController } from './health.controller';
import { DrainIndicator, KeysIndicator, ProcessIndicator, StoreIndicator } from './indicators';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), SessionModule, LifecycleModule],
  controllers: [HealthController],
  providers: [ProcessIndicator, StoreIndicator, KeysIndicator, DrainIndicator],
})
export class HealthModule {}
