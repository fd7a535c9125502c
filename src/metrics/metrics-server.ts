import { createServer, Server } from 'node:http';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { listenFailure } from '../config/listen-failure';
import { Metrics } from '../infra/metrics/metrics';

/** With METRICS_PORT, a plain listener for Prometheus alone, so that metrics need not be public. */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Metrics');
  private server?: Server;

  constructor(
    private readonly config: GatewayConfig,
    private readonly metrics: Metrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.ops.metricsPort;
    if (!port) return;
    this.server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      void this.metrics.registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (error) => reject(listenFailure(error, 'METRICS_PORT', this.config.host, port)));
      this.server!.listen(port, this.config.host, resolve);
    });
    this.log.log(`metrics on http://${this.config.host}:${port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
