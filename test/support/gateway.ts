import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { createApp } from '../../src/app';
import { GatewayConfig } from '../../src/config/gateway-config';
import { loadConfig } from '../../src/config/load-config';

export interface RunningGateway {
  app: NestFastifyApplication;
  config: GatewayConfig;
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the real gateway on a free loopback port, with the given environment
 * on top of test defaults (memory store, the sample directory and catalogue).
 */
export async function startGateway(
  env: Record<string, string | undefined> = {},
  options: { logStream?: DestinationStream } = {},
): Promise<RunningGateway> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DEV_KEY_DIR: mkdtempSync(join(tmpdir(), 'vora-dev-key-')),
    ...env,
  });
  const app = await createApp(config, { silent: !process.env.TEST_LOGS && !options.logStream, logStream: options.logStream });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    config,
    url,
    wsUrl: url.replace('http', 'ws'),
    close: () => app.close(),
  };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the raw text when the body is not JSON, or undefined when empty. */
  body: any;
}

/** A real HTTP call through Fastify. */
export async function http(
  url: string,
  init: { method?: string; token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Asserts the seed's ResponseStatusVoraError shape for a status. */
export function expectError(result: HttpResult, status: number, message?: string | RegExp): void {
  expect(result.status).toBe(status);
  expect(result.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(result.body).sort()).toEqual(['error', 'message', 'status', 'timestamp']);
  expect(result.body.status).toBe(String(status));
  expect(typeof result.body.error).toBe('string');
  expect(new Date(result.body.timestamp).toISOString()).toBe(result.body.timestamp);
  if (message !== undefined) expect(result.body.message).toMatch(message);
  expect(JSON.stringify(result.body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
}
