import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppModule } from './app.module';
import { sendError } from './common/error-body';
import { setUpOpenApi } from './common/openapi';
import { GatewayConfig } from './config/gateway-config';
import { GatewayWsAdapter } from './gateway/gateway-ws.adapter';
import { HandshakeService } from './gateway/handshake.service';
import { ClientAddresses } from './http/client-address';
import { answerClientError } from './http/client-errors';
import { capConnections } from './http/connection-cap';
import { answerPreflights, Cors } from './http/cors';
import { HttpEdge } from './http/edge';
import { registerJsonBody } from './http/json-body';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';
import { AccessLog } from './logging/access-log';
import { createLogger, LoggingOptions, NestPinoLogger } from './logging/logger';
import { requestIdOf } from './logging/request-id';
import { Metrics } from './infra/metrics/metrics';

export type CreateAppOptions = LoggingOptions;

/** Builds the gateway (not yet listening): shared by `main.ts` and the end-to-end tests. */
export async function createApp(config: GatewayConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const log = createLogger(config, options);
  const adapter = new FastifyAdapter({
    bodyLimit: Math.max(config.http.clientBodyLimitBytes, config.http.ingressMaxBodyBytes),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: config.http.maxParamLength },
    // No connectionTimeout: a silent connection is cut by headersTimeout (408) and an idle one by keep-alive,
    // while an idle-socket timer would stay allocated on every WebSocket after its upgrade.
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      headersTimeout: config.http.headersTimeoutMs,
      // Node checks header and request timeouts this often (30 s by default): slow clients are cut on time.
      connectionsCheckingInterval: 1_000,
    },
    clientErrorHandler: answerClientError,
    return503OnClosing: true,
    genReqId: requestIdOf,
    // Path parameters that are not percent-encoded UTF-8 (a lone surrogate cannot be) and over-long ones
    // are refused by the router itself.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      const message = FRAMEWORK_MESSAGES[error.code] ?? (status === 414 ? 'a path parameter is too long' : 'the request URL is malformed');
      void sendError(reply, status, message);
    },
  });
  const fastify = adapter.getInstance();
  capConnections(fastify.server, config.http.maxConnections);

  // Client routes take 16 KiB; only the platform's ingress takes more (SPEC section 8).
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const ingress = (route.config as { ingress?: boolean } | undefined)?.ingress;
    route.bodyLimit = ingress ? config.http.ingressMaxBodyBytes : config.http.clientBodyLimitBytes;
  });
  registerJsonBody(fastify);
  const edge = new HttpEdge(new Cors(config.http.corsOrigins), new AccessLog(log, new ClientAddresses(config.http.trustProxy)));
  edge.register(fastify);
  answerPreflights(fastify);

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new NestPinoLogger(log),
    bodyParser: false,
    // A module that fails to start rejects createApp instead of exiting: main.ts says what to change.
    abortOnError: false,
  });
  const metrics = app.get(Metrics);
  edge.attach(app.get(GracefulShutdown).inFlight, (seconds, labels) => metrics.httpDuration.observe(seconds, labels));
  app.useWebSocketAdapter(new GatewayWsAdapter(app, app.get(HandshakeService), config.ws));
  setUpOpenApi(app, config);
  await app.init();
  await fastify.ready();
  return app;
}

const FRAMEWORK_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_BAD_URL: 'a path parameter is not valid percent-encoded UTF-8',
};
