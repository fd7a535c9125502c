import type { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger as Pino } from 'pino';
import { GatewayConfig } from '../config/gateway-config';
import { ConfigError } from '../config/load-config';

export interface LoggingOptions {
  /** Where JSON lines go (stdout when absent); tests capture them here. */
  readonly logStream?: DestinationStream;
  /** No log lines at all (tests that do not look at logs). */
  readonly silent?: boolean;
}

/**
 * The process's one pino logger. Secrets a request line could carry are
 * censored by path; URLs are redacted where they are serialized (redact.ts).
 */
export function createLogger(config: GatewayConfig, options: LoggingOptions = {}): Pino {
  const pinoOptions = {
    level: options.silent ? 'silent' : config.ops.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]'],
      censor: '[REDACTED]',
    },
  };
  return options.logStream ? pino(pinoOptions, options.logStream) : pino(pinoOptions);
}

/** Nest's `Logger` lines (start-up, sockets, stores, errors) as pino JSON with their context. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    // Nest reports a module that failed to start; for a configuration problem main.ts says it in one line, without a stack.
    if (message instanceof ConfigError) return;
    // Nest passes (message, stack, context) for errors.
    const [stack, context] = rest.length >= 2 ? rest : [undefined, ...rest];
    const fields = typeof stack === 'string' ? { err: { stack } } : {};
    this.write('error', message, context === undefined ? [] : [context], fields);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: pino.Level, message: unknown, rest: unknown[], fields: Record<string, unknown> = {}): void {
    if (!this.pino.isLevelEnabled(level)) return;
    // Nest appends the logger's context as the last argument.
    const context = typeof rest[rest.length - 1] === 'string' ? rest[rest.length - 1] : undefined;
    if (message instanceof Error) this.pino[level]({ context, ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.pino[level]({ context, ...fields, ...message });
    else this.pino[level]({ context, ...fields }, String(message));
  }
}
