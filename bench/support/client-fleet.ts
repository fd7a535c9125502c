import { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { forkTs } from './processes';
import { Histogram } from './stats';
import type { ClientCommand, ClientReply, ClientStats, SocketTarget } from './ws-clients';

/** ClientStats summed over the client processes, with the histogram and the late events merged. */
export interface FleetStats extends Omit<ClientStats, 'latency' | 'late'> {
  latency: Histogram;
  /** See ClientStats.late, merged over the client processes. */
  late: Map<number, [count: number, maxMs: number]>;
}

/**
 * The socket clients of a benchmark, spread over several processes so that
 * the clients' own work is not done on the server's event loop.
 */
export class ClientFleet {
  private constructor(private readonly workers: ChildProcess[]) {}

  /** The client processes, for their CPU time. */
  get pids(): number[] {
    return this.workers.map((worker) => worker.pid!);
  }

  static async start(processes: number): Promise<ClientFleet> {
    const script = join(__dirname, 'ws-clients.ts');
    const workers = Array.from({ length: Math.max(1, processes) }, () => forkTs(script));
    return new ClientFleet(workers);
  }

  /** Opens one socket per target (spread round-robin); each waits for its welcome. */
  async open(targets: SocketTarget[], concurrency = 256): Promise<{ ok: number; failed: number; errors: string[]; ms: number }> {
    const shares = this.workers.map(() => [] as SocketTarget[]);
    targets.forEach((target, i) => shares[i % shares.length].push(target));
    const replies = await Promise.all(
      this.workers.map((worker, i) => this.ask(worker, { cmd: 'open', targets: shares[i], concurrency }, 'opened')),
    );
    return sumReplies(replies as Array<Extract<ClientReply, { type: 'opened' }>>);
  }

  async reset(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.ask(w, { cmd: 'reset' }, 'reset')));
  }

  async stats(): Promise<FleetStats> {
    const replies = (await Promise.all(this.workers.map((w) => this.ask(w, { cmd: 'stats' }, 'stats')))) as Array<
      Extract<ClientReply, { type: 'stats' }>
    >;
    const merged: FleetStats = {
      received: 0,
      unique: 0,
      duplicates: 0,
      holes: 0,
      misrouted: 0,
      closedByServer: {},
      firstAt: 0,
      lastAt: 0,
      latency: new Histogram(),
      late: new Map(),
    };
    for (const { stats } of replies) mergeInto(merged, stats);
    return merged;
  }

  /** Cuts every socket without a close handshake; resolves when all are closed. */
  async drop(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.ask(w, { cmd: 'drop' }, 'dropped')));
  }

  /** Reconnects every socket with lastEventId; each is done after its welcome and `replay` events. */
  async reconnect(concurrency: number, replay: number): Promise<{ ok: number; failed: number; errors: string[]; ms: number }> {
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, { cmd: 'reconnect', concurrency, replay }, 'reconnected')));
    return sumReplies(replies as Array<Extract<ClientReply, { type: 'reconnected' }>>);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.exitCode !== null) return resolve();
            worker.once('exit', () => resolve());
            worker.send({ cmd: 'exit' } satisfies ClientCommand);
            setTimeout(() => worker.kill('SIGKILL'), 5_000).unref();
          }),
      ),
    );
  }

  private ask(worker: ChildProcess, command: ClientCommand, expect: ClientReply['type'], timeoutMs = 180_000): Promise<ClientReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.off('message', listener);
        reject(new Error(`client process did not answer ${command.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (message: ClientReply) => {
        if (message.type !== expect) return;
        clearTimeout(timer);
        worker.off('message', listener);
        resolve(message);
      };
      worker.on('message', listener);
      worker.send(command);
    });
  }
}

function sumReplies(replies: Array<{ ok: number; failed: number; errors: string[]; ms: number }>) {
  return {
    ok: replies.reduce((n, r) => n + r.ok, 0),
    failed: replies.reduce((n, r) => n + r.failed, 0),
    errors: replies.flatMap((r) => r.errors),
    ms: Math.max(...replies.map((r) => r.ms)),
  };
}

function mergeInto(into: FleetStats, stats: ClientStats): void {
  into.received += stats.received;
  into.unique += stats.unique;
  into.duplicates += stats.duplicates;
  into.holes += stats.holes;
  into.misrouted += stats.misrouted;
  for (const [code, n] of Object.entries(stats.closedByServer)) into.closedByServer[code] = (into.closedByServer[code] ?? 0) + n;
  if (stats.firstAt && (!into.firstAt || stats.firstAt < into.firstAt)) into.firstAt = stats.firstAt;
  into.lastAt = Math.max(into.lastAt, stats.lastAt);
  into.latency.merge(stats.latency);
  for (const [window, [count, maxMs]] of Object.entries(stats.late)) {
    const known = into.late.get(Number(window));
    into.late.set(Number(window), known ? [known[0] + count, Math.max(known[1], maxMs)] : [count, maxMs]);
  }
}
