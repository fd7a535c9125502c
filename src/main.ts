import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { ConfigError, loadConfig } from './config/load-config';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`VORA Gateway cannot start: ${error.message}`);
    process.exit(1);
  }
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  new Logger('Gateway').log(`VORA Gateway listening on ${await app.getUrl()} (store: ${config.store})`);
}

void main();
