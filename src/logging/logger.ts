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
 * The process's one pino logger. The access log is the only line that
 * carries a request's headers and URL, and it censors their secrets itself
 * (redact.ts).
 */
export function createLogger(config: GatewayConfig, options: LoggingOptions = {}): Pino {
  const pinoOptions = {
    level: options.silent ? 'silent' : config.ops.logLevel,
  };
  if (options.logStream) return pino(pinoOptions, options.logStream);
  if (options.silent) return pino(pinoOptions);
  return pino(pinoOptions, stdoutDestination());
}

/** Bytes of lines gathered before one write: a write per line would be a system call per request. */
const WRITE_AT_BYTES = 4096;
/** The longest a line waits for others before it is written anyway. */
const WRITE_AFTER_MS = 100;

type SonicBoom = ReturnType<typeof pino.destination>;

let stdout: SonicBoom | undefined;

/**
 * Standard output, written asynchronously: a line is queued on the request's
 * path and written off it, with the lines around it, once 4 KiB have gathered
 * or 100 ms have passed. One per process, so every logger shares the queue
 * that `flushLogs` and `flushLogsSync` empty; pino also empties it
 * synchronously when the process exits (`process.exit` included).
 */
function stdoutDestination(): SonicBoom {
  stdout ??= pino.destination({ dest: 1, sync: false, minLength: WRITE_AT_BYTES, periodicFlush: WRITE_AFTER_MS });
  return stdout;
}

/** Resolves once every queued line is written (graceful shutdown, before the process exits). */
export function flushLogs(): Promise<void> {
  const destination = stdout;
  if (!destination) return Promise.resolve();
  // The callback carries fsync's error on a pipe (EINVAL): the lines are written all the same.
  return new Promise((resolve) => destination.flush(() => resolve()));
}

/** Writes every queued line now, blocking (a fatal error: the event loop may never turn again). */
export function flushLogsSync(): void {
  if (!stdout) return;
  try {
    stdout.flushSync();
  } catch {
    // Not open yet, or closed: nothing can be written.
  }
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
