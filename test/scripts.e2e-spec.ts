import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ALICE, ALICE_FIXED, REMOTE_PARTY } from './support/fixtures';
import { http, publish, setupSession, startGateway, useGateway } from './support/harness';

const ROOT = join(__dirname, '..');

/** A script of package.json run as its npm script runs it (ts-node --transpile-only). */
class Script {
  readonly stdout: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private partial = '';
  private waiters: Array<() => void> = [];

  constructor(
    file: string,
    args: string[],
    env: Record<string, string> = {},
    readonly child: ChildProcessWithoutNullStreams = spawn(
      join(ROOT, 'node_modules', '.bin', 'ts-node'),
      ['--transpile-only', join(ROOT, 'scripts', file), ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env } },
    ),
  ) {
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString()).split('\n');
      this.partial = lines.pop()!;
      this.stdout.push(...lines);
      this.wake();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk;
      this.wake();
    });
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  /** The first stdout line that satisfies `match`, waiting for it (bounded). */
  async line(match: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.stdout.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no such line; stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  private wake(): void {
    this.waiters.splice(0).forEach((wake) => wake());
  }
}

const json = (line: string) => JSON.parse(line);
const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+/m);

describe('npm run token', () => {
  it('--help prints the usage and exits 0', async () => {
    const script = new Script('token.ts', ['--help']);
    expect(await script.exited).toBe(0);
    expect(script.stdout[0]).toBe('usage: npm run token -- --sub <sub> [--scope "vora:user"] [--ttl seconds] [--username name]');
    expect(script.stderr).toBe('');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--scope', 'vora:user'], '--sub is required'],
    [['--sub', 'alice', '--ttl', 'soon'], '--ttl must be a whole number of seconds, got "soon"'],
  ])('%j: says what is wrong, prints the usage, exits 2', async (args, problem) => {
    const script = new Script('token.ts', args);
    expect(await script.exited).toBe(2);
    expect(script.stderr.split('\n').slice(0, 2)).toEqual([problem, expect.stringMatching(/^usage: npm run token -- --sub <sub>/)]);
    noStack(script.stderr);
    expect(script.stdout).toEqual([]);
  });

  it('prints a token the gateway with the same DEV_KEY_DIR accepts', async () => {
    const gateway = await startGateway({});
    try {
      const script = new Script('token.ts', ['--sub', 'alice', '--scope', 'vora:user'], { DEV_KEY_DIR: gateway.config.auth.devKeyDir });
      expect(await script.exited).toBe(0);
      const result = await http(`${gateway.url}/identity`, { token: script.stdout[0] });
      expect(result).toMatchObject({ status: 200, body: { identities: [ALICE, ALICE_FIXED] } });
    } finally {
      await gateway.close();
    }
  });
});

describe('npm run ws', () => {
  const { gateway } = useGateway({}, { issuer: false });
  let alice: string;
  let core: string;

  beforeAll(async () => {
    const token = (args: string[]) => new Script('token.ts', args, { DEV_KEY_DIR: gateway.config.auth.devKeyDir });
    const [user, platform] = [token(['--sub', 'alice']), token(['--sub', 'core', '--scope', 'vora:events:publish'])];
    await Promise.all([user.exited, platform.exited]);
    [alice, core] = [user.stdout[0], platform.stdout[0]];
  });

  const event = (callId: string) => ({
    event: 'CallDelivered',
    identity: ALICE,
    data: { callId, direction: 'terminating', remoteParty: REMOTE_PARTY },
  });

  it('prints every message, sends what is typed, outlives its stdin, and names the close code', async () => {
    const webSocketToken = await setupSession(gateway, alice, { identity: ALICE });
    const client = new Script('ws.ts', ['--token', webSocketToken, '--url', `${gateway.wsUrl}/ws`]);
    try {
      expect(json(await client.line((l) => l.includes('"welcome"')))).toMatchObject({ type: 'welcome', identity: ALICE, lastEventId: '0' });

      client.send('ping');
      expect(json(await client.line((l) => l.includes('"pong"')))).toEqual({ type: 'pong' });
      client.send('ready c-9');
      expect(json(await client.line((l) => l.includes('"error"')))).toMatchObject({ type: 'error', message: expect.stringContaining('c-9') });

      await publish(gateway, core, [event('c-1')]);
      expect(json(await client.line((l) => l.includes('"c-1"')))).toMatchObject({ type: 'event', id: '1', event: 'CallDelivered' });

      // stdin closed: the client stays, and events still arrive.
      client.child.stdin.end();
      await publish(gateway, core, [event('c-2')]);
      expect(json(await client.line((l) => l.includes('"c-2"')))).toMatchObject({ type: 'event', id: '2' });

      expect((await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { method: 'POST', token: alice })).status).toBe(200);
      expect(await client.exited).toBe(0);
      expect(client.stderr).toBe('closed with code 4000 (logged out): logged out\n');
    } finally {
      client.child.kill();
    }
  });

  it('--last-event-id resumes after that id', async () => {
    const webSocketToken = await setupSession(gateway, alice, { identity: ALICE });
    await publish(gateway, core, [event('r-1'), event('r-2'), event('r-3')]);
    const client = new Script('ws.ts', ['--token', webSocketToken, '--url', `${gateway.wsUrl}/ws`, '--last-event-id', '1']);
    try {
      await client.line((l) => l.includes('"r-3"'));
      const ids = client.stdout.filter((l) => l.includes('"event"')).map((l) => json(l).id);
      expect(ids).toEqual(['2', '3']);
      client.child.kill('SIGINT');
      expect(await client.exited).toBe(0);
      expect(client.stderr).toBe('closed with code 1000 (closed normally)\n');
    } finally {
      client.child.kill();
    }
  });

  it('says why a handshake was refused, and exits 1', async () => {
    const client = new Script('ws.ts', ['--token', 'not-a-session', '--url', `${gateway.wsUrl}/ws`]);
    expect(await client.exited).toBe(1);
    expect(client.stderr).toBe('refused: HTTP 401: the webSocketToken is unknown, revoked or expired\n');
  });

  it('takes a token that starts with a dash, as a base64url webSocketToken may', async () => {
    const client = new Script('ws.ts', ['--token', '-starts-with-a-dash', '--url', `${gateway.wsUrl}/ws`]);
    expect(await client.exited).toBe(1);
    expect(client.stderr).toBe('refused: HTTP 401: the webSocketToken is unknown, revoked or expired\n');
  });

  it('--help prints the usage; unknown options print it with exit 2', async () => {
    const help = new Script('ws.ts', ['--help']);
    expect(await help.exited).toBe(0);
    expect(help.stdout[0]).toBe('usage: npm run ws -- --token <webSocketToken> [--last-event-id N] [--url ws://localhost:3000/ws]');
    const wrong = new Script('ws.ts', ['--tokn', 'x']);
    expect(await wrong.exited).toBe(2);
    expect(wrong.stderr.split('\n')[0]).toBe("Unknown option '--tokn'");
    noStack(wrong.stderr);
  });
});
