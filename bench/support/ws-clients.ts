/**
 * A client process of the benchmarks (forked by ClientFleet): holds a share
 * of the sockets, checks every event (per-session ids with no hole and no
 * duplicate, the right identity, each published sequence number once) and
 * records ingest-to-client latency from the `sentAt` the publisher put in
 * `data`. Controlled over IPC; exits when its parent goes.
 */
import WebSocket from 'ws';
import { Histogram, nowMs } from './stats';

export interface SocketTarget {
  /** The identity the socket is for; events for any other identity are misrouted. */
  readonly identity: string;
  /** ws://.../ws?token=... (or the baseline's ?identity=...), without lastEventId. */
  readonly url: string;
}

export type ClientCommand =
  | { cmd: 'open'; targets: SocketTarget[]; concurrency: number }
  | { cmd: 'reset' }
  | { cmd: 'stats' }
  | { cmd: 'drop' }
  | { cmd: 'reconnect'; concurrency: number; replay: number }
  | { cmd: 'exit' };

export interface ClientStats {
  received: number;
  unique: number;
  duplicates: number;
  /** Ids skipped on a socket (events the session never got). */
  holes: number;
  misrouted: number;
  /** Sockets closed by the server, with their close codes. */
  closedByServer: Record<string, number>;
  firstAt: number;
  lastAt: number;
  latency: ReturnType<Histogram['toJSON']>;
  /** Per 100 ms of send time (`sentAt` / 100, floored): events that took longer than LATE_MS, and the longest. */
  late: Record<string, [count: number, maxMs: number]>;
}

/** An event this late counts in `ClientStats.late`: where in a phase the slow events were sent. */
export const LATE_MS = 50;

export type ClientReply =
  | { type: 'opened'; ok: number; failed: number; errors: string[]; ms: number }
  | { type: 'reset' }
  | { type: 'stats'; stats: ClientStats }
  | { type: 'dropped' }
  | { type: 'reconnected'; ok: number; failed: number; errors: string[]; ms: number };

/** Bits, grown on demand: which publisher sequence numbers arrived. */
class BitSet {
  private bits = new Uint8Array(1 << 16);

  /** Sets the bit; false when it was already set. */
  add(n: number): boolean {
    const byte = n >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (n & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    return true;
  }
}

interface EventMessage {
  type: string;
  id?: string;
  identity?: string;
  lastEventId?: string;
  data?: { seq?: number; sentAt?: number };
}

class Client {
  socket?: WebSocket;
  lastId = 0;
  /** Resolves the pending open or reconnect once the welcome (and the replay) arrived. */
  private waiter?: { replayUntil: number; done: (error?: Error) => void };
  private welcomed = false;
  dropping = false;

  constructor(
    readonly target: SocketTarget,
    private readonly stats: Stats,
  ) {}

  connect(lastEventId: number | undefined, replay: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const url = lastEventId === undefined ? this.target.url : `${this.target.url}&lastEventId=${lastEventId}`;
      const socket = new WebSocket(url, { perMessageDeflate: false });
      this.socket = socket;
      this.welcomed = false;
      this.dropping = false;
      let settled = false;
      this.waiter = {
        replayUntil: this.lastId + replay,
        done: (error) => {
          if (settled) return;
          settled = true;
          this.waiter = undefined;
          if (error) reject(error);
          else resolve();
        },
      };
      socket.on('message', (data: Buffer) => this.onMessage(data));
      socket.on('error', (error) => this.waiter?.done(error));
      socket.once('unexpected-response', (_req, res) => this.waiter?.done(new Error(`HTTP ${res.statusCode}`)));
      socket.once('close', (code) => {
        if (!this.dropping && this.welcomed) this.stats.closedByServer[code] = (this.stats.closedByServer[code] ?? 0) + 1;
        this.waiter?.done(new Error(`closed ${code} before the welcome`));
      });
    });
  }

  private onMessage(data: Buffer): void {
    const message = JSON.parse(data.toString()) as EventMessage;
    if (message.type === 'event') {
      this.stats.onEvent(this, message);
    } else if (message.type === 'welcome') {
      this.welcomed = true;
    }
    const waiter = this.waiter;
    if (waiter && this.welcomed && this.lastId >= waiter.replayUntil) waiter.done();
  }
}

class Stats {
  received = 0;
  unique = 0;
  duplicates = 0;
  holes = 0;
  misrouted = 0;
  closedByServer: Record<string, number> = {};
  firstAt = 0;
  lastAt = 0;
  latency = new Histogram();
  late: Record<string, [number, number]> = {};
  private seqs = new BitSet();

  onEvent(client: Client, message: EventMessage): void {
    const now = nowMs();
    this.received++;
    if (!this.firstAt) this.firstAt = now;
    this.lastAt = now;
    const id = Number(message.id);
    let duplicate = id <= client.lastId;
    if (!duplicate) {
      this.holes += id - client.lastId - 1;
      client.lastId = id;
    }
    if (message.identity !== client.target.identity) this.misrouted++;
    const seq = message.data?.seq;
    // The same published event under two ids is a duplicate too.
    if (typeof seq === 'number' && !this.seqs.add(seq)) duplicate = true;
    if (duplicate) this.duplicates++;
    else this.unique++;
    if (typeof message.data?.sentAt === 'number') {
      const ms = now - message.data.sentAt;
      this.latency.record(ms);
      if (ms > LATE_MS) {
        const window = (this.late[Math.floor(message.data.sentAt / 100)] ??= [0, 0]);
        window[0]++;
        window[1] = Math.max(window[1], ms);
      }
    }
  }

  reset(): void {
    this.received = this.unique = this.duplicates = this.holes = this.misrouted = 0;
    this.closedByServer = {};
    this.firstAt = this.lastAt = 0;
    this.latency = new Histogram();
    this.late = {};
    this.seqs = new BitSet();
  }

  snapshot(): ClientStats {
    const { received, unique, duplicates, holes, misrouted, closedByServer, firstAt, lastAt } = this;
    return { received, unique, duplicates, holes, misrouted, closedByServer, firstAt, lastAt, latency: this.latency.toJSON(), late: this.late };
  }
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<{ ok: number; errors: string[] }> {
  let next = 0;
  let ok = 0;
  const errors: string[] = [];
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await task(item);
        ok++;
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return { ok, errors };
}

const WELCOME_TIMEOUT_MS = 60_000;

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`no welcome within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function main(): void {
  const stats = new Stats();
  const clients: Client[] = [];
  const reply = (message: ClientReply) => process.send!(message);
  const summarize = (errors: string[]) => {
    const counts = new Map<string, number>();
    for (const e of errors) counts.set(e, (counts.get(e) ?? 0) + 1);
    return [...counts].slice(0, 5).map(([e, n]) => `${n}× ${e}`);
  };

  process.on('disconnect', () => process.exit(0));
  process.on('message', async (command: ClientCommand) => {
    switch (command.cmd) {
      case 'open': {
        const started = nowMs();
        // Opens add to the sockets already held (the memory benchmark opens in two steps).
        const added = command.targets.map((target) => new Client(target, stats));
        clients.push(...added);
        const { ok, errors } = await pool(added, command.concurrency, (c) => withTimeout(c.connect(undefined, 0), WELCOME_TIMEOUT_MS));
        return reply({ type: 'opened', ok, failed: errors.length, errors: summarize(errors), ms: nowMs() - started });
      }
      case 'reset':
        stats.reset();
        return reply({ type: 'reset' });
      case 'stats':
        return reply({ type: 'stats', stats: stats.snapshot() });
      case 'drop': {
        await Promise.all(
          clients.map(
            (c) =>
              new Promise<void>((resolve) => {
                const socket = c.socket;
                if (!socket || socket.readyState === WebSocket.CLOSED) return resolve();
                c.dropping = true;
                socket.once('close', () => resolve());
                // A dropped network: no close handshake, the server sees the TCP connection end.
                socket.terminate();
              }),
          ),
        );
        return reply({ type: 'dropped' });
      }
      case 'reconnect': {
        const started = nowMs();
        const { ok, errors } = await pool(clients, command.concurrency, (c) =>
          withTimeout(c.connect(c.lastId, command.replay), WELCOME_TIMEOUT_MS),
        );
        return reply({ type: 'reconnected', ok, failed: errors.length, errors: summarize(errors), ms: nowMs() - started });
      }
      case 'exit':
        for (const c of clients) c.socket?.terminate();
        process.exit(0);
    }
  });
}

if (require.main === module) main();
