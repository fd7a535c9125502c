import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/access.decorator';
import { VoraError } from '../common/vora-error';
import { GatewayConfig } from '../config/gateway-config';
import { Metrics } from '../infra/metrics/metrics';

/** Prometheus scrapes `/metrics` here unless METRICS_PORT moves it off the public port. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly config: GatewayConfig,
    private readonly metrics: Metrics,
  ) {}

  @Get()
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    if (this.config.ops.metricsPort) throw VoraError.notFound('metrics are served on METRICS_PORT, not here');
    return this.metrics.registry.metrics();
  }
}
