import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SessionModule } from '../session/session.module';
import { DrainState } from './drain-state';
import { HealthController } from './health.controller';
import { DrainIndicator, KeysIndicator, ProcessIndicator, StoreIndicator } from './indicators';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), SessionModule],
  controllers: [HealthController],
  providers: [DrainState, ProcessIndicator, StoreIndicator, KeysIndicator, DrainIndicator],
  exports: [DrainState],
})
export class HealthModule {}
