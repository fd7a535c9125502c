import { Module } from '@nestjs/common';
import { GatewayModule } from '../gateway/gateway.module';
import { HealthModule } from '../health/health.module';
import { GracefulShutdown } from './graceful-shutdown';

/** Process lifecycle: wires the drain of health, gateway and HTTP server together (composition root only). */
@Module({
  imports: [HealthModule, GatewayModule],
  providers: [GracefulShutdown],
  exports: [GracefulShutdown],
})
export class LifecycleModule {}
