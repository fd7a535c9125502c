import { ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { dirname, join } from 'node:path';
import { freePort } from '../../test/support/free-port';
import { ROOT } from './options';
import { sleep } from './stats';

export const BUILD_DIR = join(ROOT, '.data', 'bench-build');
/** Baselines transpiled to JavaScript; inside the repository so that they resolve fastify and ws from node_modules. */
const BASELINE_BUILD_DIR = join(ROOT, '.data', 'bench', 'baseline');
export const LOG_DIR = join(ROOT, '.data', 'bench', 'logs');
/** Where `--cpu-prof` writes when BENCH_CPU_PROF=1 (git-ignored). */
export const PROFILE_DIR = join(ROOT, '.data', 'bench', 'profiles');
/** Node options for collectGarbage(): the inspector on a free loopback port. */
export const INSPECT_ARGS = ['--inspect=127.0.0.1:0'];

/** TypeScript run in a child: the bench's own servers and clients. */
const TS_NODE = ['-r', 'ts-node/register/transpile-only'];

let built = false;

/** Compiles src/ once per run into .data/bench-build (BENCH_SKIP_BUILD=1 reuses the last build). */
export function buildGateway(): void {
  if (built) return;
  compileGateway(BUILD_DIR, process.env.BENCH_SKIP_BUILD === '1');
  built = true;
}

/** Compiles src/ into `outDir`, unless `reuse` and a build is there already. */
export function compileGateway(outDir: string, reuse: boolean): void {
  if (reuse && existsSync(join(outDir, 'main.js'))) return;
  process.stdout.write(`building the gateway into ${outDir.slice(ROOT.length + 1)} ... `);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], {
    cwd: ROOT,
    stdio: 'inherit',
    timeout: 300_000,
  });
  process.stdout.write('done\n');
}

/**
 * bench/baseline/<script>.ts transpiled to plain JavaScript, so that the
 * baselines run as the compiled gateway does (no TypeScript compiler loaded
 * in the process, which would skew their memory).
 */
function compileBaseline(script: string): string {
  const source = join(ROOT, 'bench', 'baseline', script);
  const out = join(BASELINE_BUILD_DIR, script.replace(/\.ts$/, '.js'));
  const ts = require('typescript') as typeof import('typescript');
  const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      // The bare NestJS reference uses decorators as the gateway does.
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
    },
    fileName: source,
  });
  mkdirSync(BASELINE_BUILD_DIR, { recursive: true });
  writeFileSync(out, outputText);
  return out;
}

interface Inspector {
  call(method: string, params?: Record<string, unknown>): Promise<any>;
  close(): void;
}

/**
 * The inspector protocol of a process started with INSPECT_ARGS, found through
 * the address it printed to `logFile`.
 */
async function connectInspector(name: string, logFile: string): Promise<Inspector> {
  const match = /Debugger listening on (ws:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'));
  if (!match) throw new Error(`${name} does not run with the inspector (INSPECT_ARGS)`);
  const socket = new WebSocket(match[1], { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let id = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<any>((resolve) => {
      const mine = ++id;
      const listener = (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: number; result?: unknown };
        if (message.id !== mine) return;
        socket.off('message', listener);
        resolve(message.result);
      };
      socket.on('message', listener);
      socket.send(JSON.stringify({ id: mine, method, params }));
    });
  return { call, close: () => socket.close() };
}

/** Resident set size of a process, in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** A server under test (gateway or baseline) in its own process, stopped by stop(). */
export class ServerProcess {
  /** How it ended, when it ended before stop() was called. */
  exitedEarly?: string;
  private readonly exited: Promise<void>;
  private stopping = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.stopping) this.exitedEarly = `exited with ${signal ?? code}`;
        resolve();
      }),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  rssKiB(): number {
    return rssKiB(this.pid);
  }

  /** The compiled gateway (node .data/bench-build/main.js). */
  static async gateway(name: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
    buildGateway();
    return ServerProcess.node(name, [...nodeArgs, ...profileArgs(name), join(BUILD_DIR, 'main.js')], {
      NODE_ENV: 'production',
      DEV_KEY_DIR: join(ROOT, '.data', 'bench', 'dev-key'),
      ...env,
    });
  }

  /** A baseline server from bench/baseline (TypeScript, transpiled on load). */
  static async baseline(name: string, script: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServerProcess> {
    return ServerProcess.node(name, [...nodeArgs, ...profileArgs(name), compileBaseline(script)], env);
  }

  /**
   * A full garbage collection in the server, through the inspector protocol
   * (the process must run with INSPECT_ARGS), so that RSS is measured on what
   * is retained rather than on garbage not yet collected.
   */
  async collectGarbage(): Promise<void> {
    const inspector = await this.inspector();
    await inspector.call('HeapProfiler.enable');
    await inspector.call('HeapProfiler.collectGarbage');
    await inspector.call('HeapProfiler.collectGarbage');
    inspector.close();
  }

  /** The V8 heap in use, through the inspector (the process must run with INSPECT_ARGS). */
  async heapUsedKiB(): Promise<number> {
    const inspector = await this.inspector();
    try {
      const evaluated = (await inspector.call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true })) as {
        result?: { value?: number };
      };
      return Number(evaluated?.result?.value ?? 0) / 1024;
    } finally {
      inspector.close();
    }
  }

  /** A CPU profile of the server while `during` runs (inspector protocol; the process must run with INSPECT_ARGS). */
  async cpuProfile(file: string, during: () => Promise<void>): Promise<void> {
    const inspector = await this.inspector();
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.start');
    try {
      await during();
    } finally {
      const { profile } = (await inspector.call('Profiler.stop')) as { profile: unknown };
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      inspector.close();
    }
  }

  private inspector(): Promise<Inspector> {
    return connectInspector(this.name, this.logFile);
  }

  /** Any compiled Node script (`args` end with its path), logging into `logDir` (the soak's gateways log into its own). */
  static async node(name: string, args: string[], env: Record<string, string>, logDir = LOG_DIR): Promise<ServerProcess> {
    mkdirSync(logDir, { recursive: true });
    const port = await freePort();
    const logFile = join(logDir, `${name}.log`);
    const log = openSync(logFile, 'w');
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ...env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const server = new ServerProcess(name, child, port, logFile);
    killOnExit(child);
    await server.waitUntilLive();
    return server;
  }

  /** SIGTERM (so that --cpu-prof writes its profile), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const killed = sleep(10_000).then(() => this.child.kill('SIGKILL'));
    await Promise.race([this.exited, killed]);
    await this.exited;
  }

  private async waitUntilLive(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited early:\n${readFileSync(this.logFile, 'utf8')}`);
      try {
        const response = await fetch(`${this.url}/health/liveness`);
        if (response.status === 204) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    this.child.kill('SIGKILL');
    throw new Error(`${this.name} did not start within ${timeoutMs} ms:\n${readFileSync(this.logFile, 'utf8')}`);
  }
}

/** `--cpu-prof` when BENCH_CPU_PROF=1, and any flags of BENCH_NODE_FLAGS (say `--trace-gc`; output in the server's log). */
function profileArgs(name: string): string[] {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  if (process.env.BENCH_CPU_PROF !== '1') return flags;
  mkdirSync(PROFILE_DIR, { recursive: true });
  return [...flags, '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
}

/** A bench process in TypeScript with an IPC channel (the socket clients). */
export function forkTs(script: string, args: string[] = []): ChildProcess {
  const child = fork(script, args, { cwd: ROOT, execArgv: [...TS_NODE, '--max-old-space-size=2048'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  killOnExit(child);
  return child;
}

const running = new Set<ChildProcess>();
let hooked = false;

/** A benchmark that dies half-way must not leave servers or clients behind. */
function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        running.forEach((c) => c.kill('SIGKILL'));
        process.exit(130);
      });
    }
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}
