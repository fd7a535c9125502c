import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { GatewayConfig } from './config/gateway-config';
import { ConfigError, loadConfig } from './config/load-config';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`VORA Gateway cannot start: ${error.message}`);
    process.exit(1);
  }
  const app = await createApp(config);
  const log = new Logger('Gateway');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.ops.shutdownTimeoutMs;
    // Whatever hangs, the process is gone by SHUTDOWN_TIMEOUT_MS.
    setTimeout(() => {
      log.error(`shutdown did not finish within SHUTDOWN_TIMEOUT_MS (${config.ops.shutdownTimeoutMs} ms); exiting`);
      process.exit(1);
    }, config.ops.shutdownTimeoutMs).unref();
    log.log(`${signal}: shutting down`);
    // Leave time for sockets to close and stores to quit after the requests in flight.
    await app.get(GracefulShutdown).drain(deadline - config.ops.shutdownTimeoutMs / 4);
    await app.close();
    log.log('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  await app.listen(config.port, config.host);
  log.log(`VORA Gateway listening on ${await app.getUrl()} (store: ${config.store})`);
}

void main();
