import { Metrics } from '../../src/infra/metrics/metrics';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { GatewayConfig } from '../../src/config/gateway-config';
import { loadConfig } from '../../src/config/load-config';
import { RedisConnection } from '../../src/infra/redis/redis-connection';
import { freePort } from './free-port';

export interface TestRedis {
  /** redis://127.0.0.1:PORT (or REDIS_URL) */
  readonly url: string;
  /** False when the tests run against an external REDIS_URL: stop() and start() then throw. */
  readonly controllable: boolean;
  /** The redis-server process while it runs here (undefined for REDIS_URL). */
  readonly pid?: number;
  /** Kills the server, as a crash would; its port stays reserved for start(). */
  stop(): Promise<void>;
  /** Starts the server again on the same port and waits until it answers PING. */
  start(): Promise<void>;
  /** Empties the database. */
  flush(): Promise<void>;
  /** The gateway's environment for this Redis. */
  env(): Record<string, string>;
  /** A new ioredis client for the test's own commands; the caller disconnects it. */
  client(): Redis;
  close(): Promise<void>;
}

/** Why fault tests are skipped, or undefined when they can run. */
export const faultTestsUnsupported = (redis: TestRedis): string | undefined =>
  redis.controllable
    ? undefined
    : 'skipped: REDIS_URL points at a Redis these tests cannot stop and start; put redis-server on PATH to run them';

const START_TIMEOUT_MS = 10_000;

/**
 * A throwaway redis-server on a free loopback port, with no persistence.
 * Without redis-server on PATH, REDIS_URL is used instead (flushed, never
 * stopped).
 */
export async function startRedis(): Promise<TestRedis> {
  if (hasRedisServer()) return LocalRedis.start();
  const external = process.env.REDIS_URL;
  if (external) return externalRedis(external);
  throw new Error(
    'the Redis tests need a Redis 7: install redis-server (e.g. `apt-get install redis-server`) so they can start ' +
      'their own, or set REDIS_URL to a Redis they may flush',
  );
}

function hasRedisServer(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

class LocalRedis implements TestRedis {
  readonly controllable = true;
  private process?: ChildProcess;

  private constructor(private readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  static async start(): Promise<LocalRedis> {
    // Another process may take the free port between the probe and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const redis = new LocalRedis(await freePort());
      try {
        await redis.start();
        return redis;
      } catch (error) {
        await redis.close();
        if (attempt === 3) throw error;
      }
    }
  }

  async start(): Promise<void> {
    if (this.process) return;
    this.process = await spawnRedisServer(this.port, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
    ]);
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    await killAndWait(child);
  }

  async flush(): Promise<void> {
    await flushAll(this.url);
  }

  env(): Record<string, string> {
    return { STORE: 'redis', REDIS_URL: this.url };
  }

  client(): Redis {
    return new Redis(this.url);
  }

  async close(): Promise<void> {
    await this.stop();
  }
}

/**
 * Starts redis-server with `args` and resolves once it answers PING on
 * `port`; one that exits first (a taken port, a bad argument) is reported
 * with the end of its output. `onExit` runs whenever the process ends.
 */
export async function spawnRedisServer(port: number, args: string[], onExit?: (child: ChildProcess) => void): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => {
      onExit?.(child);
      reject(new Error(`redis-server on port ${port} exited (${code ?? signal}): ${output}`));
    }),
  );
  exited.catch(() => undefined);
  killOnExit(child);
  try {
    await Promise.race([waitForPong(port), exited]);
    return child;
  } catch (error) {
    await killAndWait(child);
    throw error;
  }
}

/** SIGKILL, as a crash would; resolves once the process has exited. */
export async function killAndWait(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const running = new Set<ChildProcess>();

/** A test run that dies without close() must not leave servers behind. */
export function killOnExit(child: ChildProcess): void {
  if (running.size === 0) process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));
  running.add(child);
  child.once('exit', () => running.delete(child));
}

function externalRedis(url: string): TestRedis {
  const unsupported = async (): Promise<void> => {
    throw new Error('stop() and start() need a local redis-server; REDIS_URL is external');
  };
  return {
    url,
    controllable: false,
    stop: unsupported,
    start: unsupported,
    flush: () => flushAll(url),
    env: () => ({ STORE: 'redis', REDIS_URL: url }),
    client: () => new Redis(url),
    close: async () => undefined,
  };
}

async function flushAll(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.flushdb();
  } finally {
    client.disconnect();
  }
}

/** Polls with a raw PING until redis-server answers; bounded. */
export async function waitForPong(port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await pong(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms`);
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/**
 * The gateway's own connection pair to `url`, ready for use, as one gateway
 * instance would hold it. Nest's logger is silenced unless TEST_LOGS is set.
 */
export async function connectRedis(where: RedisWhere): Promise<RedisConnection> {
  if (!process.env.TEST_LOGS) Logger.overrideLogger(false);
  const { store } = redisConfig(where);
  if (store.kind !== 'redis') throw new Error('not a Redis configuration');
  const connection = new RedisConnection(store.topology, new Metrics());
  if (!(await connection.ready(START_TIMEOUT_MS))) {
    await connection.close();
    throw new Error(`no connection to ${JSON.stringify(where)} within ${START_TIMEOUT_MS} ms`);
  }
  return connection;
}

/**
 * Where a test's Redis is: a redis:// URL, or the gateway's environment for
 * a Cluster or Sentinel set-up (REDIS_CLUSTER_NODES, REDIS_SENTINELS...).
 */
export type RedisWhere = string | Readonly<Record<string, string>>;

/** A validated configuration with STORE=redis, as the gateway would load it. */
export const redisConfig = (where: RedisWhere, env: Record<string, string> = {}): GatewayConfig =>
  loadConfig({ STORE: 'redis', ...(typeof where === 'string' ? { REDIS_URL: where } : where), ...env });
