import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_BUILD_DIR } from './support/build-once';
import { eventually, freePort, GatewayProcess } from './support/harness';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled gateway (`node dist/main.js`, as `npm start` does) until it exits by itself. */
function runUntilExit(env: Record<string, string>): Promise<Exit> {
  const child = spawn(process.execPath, [join(TEST_BUILD_DIR, 'main.js')], {
    cwd: join(__dirname, '..'),
    env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', DEV_KEY_DIR: mkdtempSync(join(tmpdir(), 'vora-dev-key-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  // A gateway that does not refuse would listen forever: end it, and the expectations below fail.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Exit 1, the message alone on the first line of stderr, and no stack trace anywhere. */
function expectRefusal(exit: Exit, firstLine: string): void {
  expect({ code: exit.code, firstLine: exit.stderr.split('\n')[0] }).toEqual({ code: 1, firstLine });
  expect(exit.stderr).toBe(`${firstLine}\n`);
  expect(`${exit.stdout}\n${exit.stderr}`).not.toMatch(/^\s+at .+/m);
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('start-up errors say what to change: exit 1, one line, no stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vora-startup-'));

  it('PORT already taken', async () => {
    const port = await freePort();
    const blocker = await listenOn(port);
    try {
      expectRefusal(
        await runUntilExit({ PORT: String(port) }),
        `VORA Gateway cannot start: port ${port} on 127.0.0.1 is already taken by another process: set PORT to a free port (or stop that process)`,
      );
    } finally {
      blocker.close();
    }
  });

  it('METRICS_PORT already taken', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const blocker = await listenOn(metricsPort);
    try {
      expectRefusal(
        await runUntilExit({ PORT: String(port), METRICS_PORT: String(metricsPort) }),
        `VORA Gateway cannot start: port ${metricsPort} on 127.0.0.1 is already taken by another process: set METRICS_PORT to a free port (or stop that process)`,
      );
    } finally {
      blocker.close();
    }
  });

  it('DIRECTORY_FILE missing', async () => {
    const file = join(dir, 'missing.json');
    expectRefusal(
      await runUntilExit({ PORT: String(await freePort()), DIRECTORY_FILE: file }),
      `VORA Gateway cannot start: DIRECTORY_FILE ${file} cannot be read as JSON: no such file`,
    );
  });

  it('DIRECTORY_FILE not JSON', async () => {
    const file = join(dir, 'not-json.json');
    writeFileSync(file, 'users: alice');
    const exit = await runUntilExit({ PORT: String(await freePort()), DIRECTORY_FILE: file });
    const [firstLine] = exit.stderr.split('\n');
    expect(firstLine).toMatch(new RegExp(`^VORA Gateway cannot start: DIRECTORY_FILE ${file} cannot be read as JSON: Unexpected token`));
    expectRefusal(exit, firstLine);
  });

  it('DIRECTORY_FILE of the wrong shape', async () => {
    const file = join(dir, 'bad-entry.json');
    writeFileSync(file, JSON.stringify({ users: [{ sub: 'alice', identities: ['05321110001'] }] }));
    expectRefusal(
      await runUntilExit({ PORT: String(await freePort()), DIRECTORY_FILE: file }),
      `VORA Gateway cannot start: DIRECTORY_FILE ${file}: users[0].identities are not E.164 numbers: 05321110001`,
    );
  });

  it('EVENTS_FILE missing', async () => {
    const file = join(dir, 'no-events.json');
    expectRefusal(
      await runUntilExit({ PORT: String(await freePort()), EVENTS_FILE: file }),
      `VORA Gateway cannot start: EVENTS_FILE ${file} cannot be read as JSON: no such file`,
    );
  });

  it('REDIS_URL without a scheme', async () => {
    expectRefusal(
      await runUntilExit({ PORT: String(await freePort()), STORE: 'redis', REDIS_URL: 'localhost:6391' }),
      'VORA Gateway cannot start: REDIS_URL must be a redis:// or rediss:// URL (e.g. redis://localhost:6379), got "localhost:6391"',
    );
  });

  it('several bad variables: a first line that says so, then one line each', async () => {
    const exit = await runUntilExit({ PORT: 'x', LOG_LEVEL: 'loud' });
    expect(exit.code).toBe(1);
    expect(exit.stderr.split('\n')).toEqual([
      'VORA Gateway cannot start: invalid configuration:',
      '  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      '  - PORT must be an integer between 0 and 65535, got "x"',
      '',
    ]);
  });
});

describe('start-up log', () => {
  it.each([
    ['127.0.0.1', (port: number) => `VORA Gateway listening on 127.0.0.1:${port} (reach it at http://127.0.0.1:${port}; store: memory)`],
    ['0.0.0.0', (port: number) => `VORA Gateway listening on 0.0.0.0:${port} (reach it at http://localhost:${port}; store: memory)`],
  ])('says what it binds (HOST=%s) and where to reach it', async (host, line) => {
    const gateway = await GatewayProcess.start({ HOST: host });
    try {
      await eventually(() => {
        const records = gateway.output.join('').split('\n').filter(Boolean).map((text) => JSON.parse(text));
        expect(records.map((record) => record.msg)).toContain(line(gateway.port));
      });
    } finally {
      await gateway.kill('SIGTERM');
    }
  });
});
