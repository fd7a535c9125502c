import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { GatewayConfig } from './config/gateway-config';
import { listenFailure, reachableUrl } from './config/listen-failure';
import { ConfigError, loadConfig } from './config/load-config';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';
import { flushLogs, flushLogsSync } from './logging/logger';

async function main(): Promise<void> {
  // Log lines are written off the request path (logging/logger.ts): those queued when the process dies of a bug are written first.
  process.on('uncaughtExceptionMonitor', flushLogsSync);
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (error) {
    refuseToStart(error);
  }
  // Files named by the configuration (DIRECTORY_FILE, EVENTS_FILE) are read while the modules start.
  const app = await createApp(config).catch(refuseToStart);
  const log = new Logger('Gateway');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.ops.shutdownTimeoutMs;
    // Whatever hangs, the process is gone by SHUTDOWN_TIMEOUT_MS.
    setTimeout(() => {
      log.error(`shutdown did not finish within SHUTDOWN_TIMEOUT_MS (${config.ops.shutdownTimeoutMs} ms); exiting`);
      flushLogsSync();
      process.exit(1);
    }, config.ops.shutdownTimeoutMs).unref();
    log.log(`${signal}: shutting down`);
    // Leave time for sockets to close and stores to quit after the requests in flight.
    await app.get(GracefulShutdown).drain(deadline - config.ops.shutdownTimeoutMs / 4);
    await app.close();
    log.log('stopped');
    // Every request's access log line, and this last one, are written before the process goes.
    await flushLogs();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  await app.listen(config.port, config.host).catch((error: unknown) => refuseToStart(listenFailure(error, 'PORT', config.host, config.port)));
  const { port } = app.getHttpServer().address() as { port: number };
  log.log(`VORA Gateway listening on ${config.host}:${port} (reach it at ${reachableUrl(config.host, port)}; store: ${config.store.kind})`);
}

/**
 * A configuration problem ends the process with one line saying what to
 * change, and no stack: the operator has nothing to debug. Anything else is a
 * bug and keeps its stack.
 */
function refuseToStart(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  const [only, ...more] = error.problems;
  console.error(`VORA Gateway cannot start: ${more.length ? error.message : only}`);
  process.exit(1);
}

void main();
