import { Global, Module } from '@nestjs/common';
import { Metrics } from '../infra/metrics/metrics';
import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [Metrics, MetricsServer],
  exports: [Metrics],
})
export class MetricsModule {}
