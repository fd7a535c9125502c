import type { IncomingMessage } from 'node:http';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { GatewayConfig } from '../config/gateway-config';
import { CallerLogInterceptor } from './caller-log.interceptor';
import { redactUrl } from './redact';

const QUIET_PATHS = ['/health/', '/metrics'];

export interface LoggingOptions {
  /** Where JSON lines go (stdout when absent); tests capture them here. */
  readonly stream?: DestinationStream;
  readonly silent?: boolean;
}

/**
 * JSON logs through pino: the request id of request-id.ts on every line the
 * request causes, the caller's `sub` once known, and no secret anywhere: the
 * Authorization header and token query parameters are redacted.
 */
@Module({})
export class LoggingModule {
  static forRoot(config: GatewayConfig, options: LoggingOptions = {}): DynamicModule {
    const pinoOptions = {
      level: options.silent ? 'silent' : config.ops.logLevel,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]'],
        censor: '[REDACTED]',
      },
      serializers: {
        req: (request: { id: unknown; method: string; url: string; remoteAddress?: string; headers: unknown }) => ({
          id: request.id,
          method: request.method,
          url: redactUrl(request.url),
          remoteAddress: request.remoteAddress,
          headers: request.headers,
        }),
      },
      // Probes and scrapes every few seconds would drown the lines that matter.
      autoLogging: { ignore: (request: IncomingMessage) => QUIET_PATHS.some((path) => request.url?.startsWith(path)) },
    };
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: options.stream ? [pinoOptions, options.stream] : pinoOptions,
          assignResponse: true,
        }),
      ],
      providers: [{ provide: APP_INTERCEPTOR, useClass: CallerLogInterceptor }],
    };
  }
}
