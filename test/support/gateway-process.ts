import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_BUILD_DIR } from './build-once';
import { freePort } from './free-port';

/**
 * A gateway running as its own process (the compiled build of globalSetup),
 * for what one process cannot show: SIGKILL, several instances on one Redis.
 */
export class GatewayProcess {
  private exited: Promise<number | null>;
  readonly output: string[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const keep = (chunk: Buffer) => this.output.push(chunk.toString());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  static async start(env: Record<string, string>): Promise<GatewayProcess> {
    const gateway = await GatewayProcess.spawn(env);
    await gateway.waitUntilLive();
    return gateway;
  }

  /** Runs a gateway that is expected to refuse to start: its exit code and what it printed. */
  static async refusal(env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<{ code: number | null; output: string }> {
    const gateway = await GatewayProcess.spawn(env);
    const timer = setTimeout(() => gateway.child.kill('SIGKILL'), timeoutMs);
    const code = await gateway.exited;
    clearTimeout(timer);
    return { code, output: gateway.output.join('') };
  }

  /** `undefined` in `env` leaves that variable out (NODE_ENV, which defaults to test). */
  private static async spawn(env: Record<string, string | undefined>): Promise<GatewayProcess> {
    const port = await freePort();
    const variables: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      DEV_KEY_DIR: mkdtempSync(join(tmpdir(), 'vora-dev-key-')),
      ...env,
    };
    for (const [name, value] of Object.entries(variables)) if (value === undefined) delete variables[name];
    const child = spawn(process.execPath, [join(TEST_BUILD_DIR, 'main.js')], {
      cwd: join(__dirname, '..', '..'),
      env: variables,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new GatewayProcess(child, port);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  private async waitUntilLive(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`gateway exited early:\n${this.output.join('')}`);
      try {
        const response = await fetch(`${this.url}/health/liveness`);
        if (response.status === 204) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.kill();
    throw new Error(`gateway did not start within ${timeoutMs} ms:\n${this.output.join('')}`);
  }
}
