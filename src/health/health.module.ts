import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DrainState } from '../lifecycle/drain-state';
import { HealthController } from './health.controller';
import { DrainIndicator, KeysIndicator, ProcessIndicator, StoreIndicator } from './indicators';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [DrainState, ProcessIndicator, StoreIndicator, KeysIndicator, DrainIndicator],
  exports: [DrainState],
})
export class HealthModule {}
