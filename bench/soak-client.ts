/**
 * A client process of the soak test (forked by bench/soak.ts). It runs a
 * share of the simulated clients; each one owns one identity and loops:
 *
 *   setup -> subscribe (all events, a subset, or nothing: setup's default is all) -> tell the platform the session is live
 *   -> connect -> receive -> drop the socket (terminate or close) -> reconnect with lastEventId -> ...
 *   -> ask the platform how many events it owes this session (the platform stops publishing to it)
 *   -> receive all of them -> log out (with the socket open: close 4000; or after closing it) -> setup again
 *
 * Every event carries `data.epoch` (which session of the identity it was
 * published for) and `data.seq` (1, 2, 3, ... per epoch, in publishing order),
 * so the client can tell a duplicate, a gap, an event out of order and an
 * event of an older session apart; ids are checked per session as well.
 * Controlled over IPC; exits when its parent goes.
 */
import { Agent } from 'node:http';
import WebSocket from 'ws';
import { DevTokenSigner } from '../src/auth/dev-issuer/dev-token-signer';
import { openDevIssuer } from '../src/auth/dev-issuer/dev-issuer.module';
import { loadConfig } from '../src/config/load-config';
import { softRequest, SoftAnswer } from './support/http';

export interface ClientSpec {
  readonly sub: string;
  readonly identity: string;
}

export interface WorkerSettings {
  readonly clients: ClientSpec[];
  /** Base URLs of the gateways (http://127.0.0.1:PORT); each request and socket picks one at random. */
  readonly gateways: string[];
  readonly devKeyDir: string;
  /** What a subset subscription asks for (the platform publishes these, and one event outside them). */
  readonly subsetEvents: string[];
  /** Mean time a socket is held before the client acts (exponential). */
  readonly meanHoldMs: number;
  /** Probability that an action is a logout rather than a dropped socket. */
  readonly logoutProbability: number;
  /** Clients start spread over this long. */
  readonly rampMs: number;
  /** The longest a client waits for what it is owed before logging out during the run. */
  readonly drainTimeoutMs: number;
}

export type ParentMessage =
  | { cmd: 'init'; settings: WorkerSettings }
  | { cmd: 'start' }
  | { cmd: 'owed'; identity: string; epoch: number; count: number; types: string[] }
  | { cmd: 'finish'; deadline: number };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'live'; identity: string; epoch: number; events: string[] | null }
  | { type: 'quiesce'; identity: string; epoch: number }
  | { type: 'progress'; progress: Progress }
  | { type: 'report'; stats: WorkerStats };

export interface Progress {
  received: number;
  connected: number;
  reconnects: number;
  logouts: number;
  errors: number;
}

export interface WorkerStats {
  clients: number;
  unfinished: number;
  /** Sum of the counts the platform said it owed, over every ended session. */
  owed: number;
  /** Distinct (identity, epoch, seq) received, over every session. */
  received: number;
  /** Owed at the end of a session but never received. */
  missing: number;
  duplicates: number;
  outOfOrder: number;
  /** An event of an earlier session of the identity. */
  stale: number;
  /** An event the subscription excludes. */
  filteredDelivered: number;
  /** A seq beyond what the platform said it owed. */
  beyondOwed: number;
  misrouted: number;
  /** Ids skipped on a session (holes) and ids seen twice on a session. */
  idHoles: number;
  idRepeats: number;
  setups: number;
  sessions: number;
  subscriptionsSubset: number;
  /** Sessions that kept setup's default subscription (no eventSubscription call). */
  subscriptionsDefault: number;
  connects: number;
  /** Reconnects with lastEventId after the client dropped its socket, and after the server closed it. */
  reconnects: number;
  serverCloseReconnects: number;
  resumes: number;
  notRecovered: number;
  sessionChanged: number;
  logouts: number;
  logoutsWithSocket: number;
  logoutClose4000: number;
  revokedChecks: number;
  revokedRefused: number;
  secondLogoutChecks: number;
  secondLogout404: number;
  /** Every close a client saw, by code; and those it did not cause and did not expect. */
  closeCodes: Record<string, number>;
  unexpectedCloses: Record<string, number>;
  /** Unexpected outcomes by operation and status (or error code). */
  errors: Record<string, number>;
  /** Requests sent again after a reused keep-alive connection was reset. */
  keepAliveRetries: number;
  /** The first anomalies in detail, as evidence. */
  samples: string[];
  /** Publish-to-receive latency, [ms, count] pairs: of events published while the socket was open, and of the others (replayed on connect). */
  latency: Array<[number, number]>;
  replayLatency: Array<[number, number]>;
}

const LATENCY_MAX_MS = 60_000;
const WELCOME_TIMEOUT_MS = 10_000;
const LOGOUT_CLOSE_TIMEOUT_MS = 5_000;

const emptyStats = (): WorkerStats => ({
  clients: 0,
  unfinished: 0,
  owed: 0,
  received: 0,
  missing: 0,
  duplicates: 0,
  outOfOrder: 0,
  stale: 0,
  filteredDelivered: 0,
  beyondOwed: 0,
  misrouted: 0,
  idHoles: 0,
  idRepeats: 0,
  setups: 0,
  sessions: 0,
  subscriptionsSubset: 0,
  subscriptionsDefault: 0,
  connects: 0,
  reconnects: 0,
  serverCloseReconnects: 0,
  resumes: 0,
  notRecovered: 0,
  sessionChanged: 0,
  logouts: 0,
  logoutsWithSocket: 0,
  logoutClose4000: 0,
  revokedChecks: 0,
  revokedRefused: 0,
  secondLogoutChecks: 0,
  secondLogout404: 0,
  closeCodes: {},
  unexpectedCloses: {},
  errors: {},
  keepAliveRetries: 0,
  samples: [],
  latency: [],
  replayLatency: [],
});
const stats = emptyStats();
const latency = new Uint32Array(LATENCY_MAX_MS + 1);
const replayLatency = new Uint32Array(LATENCY_MAX_MS + 1);
let connected = 0;
/** Distinct (identity, epoch, seq) received so far, over every session. */
let receivedTotal = 0;

const bump = (map: Record<string, number>, key: string, by = 1) => (map[key] = (map[key] ?? 0) + by);
const MAX_SAMPLES = 20;
const sample = (text: string) => stats.samples.length < MAX_SAMPLES && stats.samples.push(`${new Date().toISOString()} ${text}`);
const errorCount = () => Object.values(stats.errors).reduce((a, b) => a + b, 0);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const exponential = (mean: number) => -Math.log(1 - Math.random()) * mean;
const send = (message: WorkerMessage) => process.send?.(message);

let settings: WorkerSettings;
let finishing = false;
let deadline = Number.POSITIVE_INFINITY;
const clients: SoakClient[] = [];
const owedWaiters = new Map<string, (owed: { count: number; types: string[] }) => void>();

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * A request on the keep-alive agent. A reused connection the server closed as
 * idle at the same moment fails with ECONNRESET before the request was read:
 * that one is sent again on a new connection (the usual keep-alive race, not
 * the gateway's answer).
 */
async function http(method: string, url: string, token: string, body?: unknown): Promise<SoftAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const answer = await softRequest(agent, method, url, token, payload, 30_000);
  if (!answer.reusedSocketReset) return answer;
  stats.keepAliveRetries++;
  return softRequest(agent, method, url, token, payload, 30_000);
}

const pickGateway = () => settings.gateways[Math.floor(Math.random() * settings.gateways.length)];

/** One timer-or-signal wait at a time: a client is sequential. */
class Wake {
  private done?: () => void;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(), Math.max(0, ms));
      const finish = () => {
        clearTimeout(timer);
        if (this.done === finish) this.done = undefined;
        resolve();
      };
      this.done = finish;
    });
  }

  wake(): void {
    this.done?.();
  }
}

type CloseIntent = 'none' | 'drop' | 'logout';

class SoakClient {
  private accessToken = '';
  private wsToken = '';
  private epoch = 0;
  private sessionId?: string;
  /** Sockets tried for this session: once one was, the gateway may have written to it, so every next one passes lastEventId. */
  private attempts = 0;
  private lastId = 0;
  private seqs = new Set<number>();
  private maxSeq = 0;
  private subset = false;
  private keptDefault = false;
  /** When the subscription was last answered (or the setup, when it was kept). */
  private subscribedAt = 0;
  private logoutSentAt = 0;
  private socket?: WebSocket;
  /** When the socket's welcome arrived: events published before it were replayed. */
  private welcomedAt = 0;
  private intent: CloseIntent = 'none';
  private closeListener?: (code: number) => void;
  private drainTarget = Number.POSITIVE_INFINITY;
  readonly wake = new Wake();
  done = false;

  constructor(readonly spec: ClientSpec) {}

  async run(signer: DevTokenSigner): Promise<void> {
    this.accessToken = await signer.sign({ sub: this.spec.sub, scope: 'vora:user', audience: 'vora-gateway', ttlS: 4 * 3600 });
    await this.wake.wait(Math.random() * settings.rampMs);
    while (!finishing) {
      if (!(await this.openSession())) {
        await this.wake.wait(500 + Math.random() * 1000);
        continue;
      }
      await this.live();
      await this.endSession();
    }
    this.done = true;
  }

  /** setup + eventSubscription, then the platform may publish to the session. */
  private async openSession(): Promise<boolean> {
    const gateway = pickGateway();
    stats.setups++;
    const setup = await http('POST', `${gateway}/identity/setup`, this.accessToken, { connectionType: 'WEB', identity: this.spec.identity });
    if (setup.status !== 200) return this.failed('setup', setup);
    this.wsToken = (JSON.parse(setup.body) as { webSocketToken: string }).webSocketToken;
    this.epoch++;
    this.sessionId = undefined;
    this.attempts = 0;
    this.lastId = 0;
    this.seqs = new Set();
    this.maxSeq = 0;
    const choice = Math.random();
    this.subset = choice < 0.4;
    this.keptDefault = choice >= 0.75;
    this.subscribedAt = Date.now();
    if (choice < 0.75) {
      const body = this.subset ? { subscribeAll: false, events: settings.subsetEvents } : { subscribeAll: true };
      const path = `/identity/${encodeURIComponent(this.spec.identity)}/eventSubscription`;
      const subscribed = await http('POST', `${pickGateway()}${path}`, this.accessToken, body);
      if (subscribed.status !== 200) {
        this.failed('eventSubscription', subscribed);
        await this.logout();
        return false;
      }
      this.subscribedAt = Date.now();
      const effective = JSON.parse(subscribed.body) as { subscribeAll: boolean; events: string[] };
      const expected = this.subset ? settings.subsetEvents : undefined;
      if (effective.subscribeAll !== !this.subset || (expected && [...effective.events].sort().join() !== [...expected].sort().join())) {
        bump(stats.errors, 'eventSubscription: effective subscription differs from the request');
      }
    } else {
      // Setup alone: the subscription is subscribeAll (the previous session's was deleted at logout).
      stats.subscriptionsDefault++;
    }
    stats.sessions++;
    if (this.subset) stats.subscriptionsSubset++;
    send({ type: 'live', identity: this.spec.identity, epoch: this.epoch, events: this.subset ? settings.subsetEvents : null });
    return true;
  }

  /** Holds the socket, drops and resumes it, until the client decides to log out (or the run ends). */
  private async live(): Promise<void> {
    // Events published before the first socket are buffered for the session and must arrive on it.
    await this.wake.wait(Math.random() * 500);
    if (!(await this.ensureConnected())) return;
    for (;;) {
      await this.hold(exponential(settings.meanHoldMs));
      if (finishing || Math.random() < settings.logoutProbability) return;
      await this.drop(Math.random() < 0.5 ? 'terminate' : 'close');
      await this.wake.wait(Math.random() * 1500);
      stats.reconnects++;
      if (!(await this.ensureConnected())) return;
    }
  }

  /** Asks the platform what it owes this session, receives all of it, then logs out. */
  private async endSession(): Promise<void> {
    const { count: owed, types } = await new Promise<{ count: number; types: string[] }>((resolve) => {
      owedWaiters.set(this.spec.identity, resolve);
      send({ type: 'quiesce', identity: this.spec.identity, epoch: this.epoch });
    });
    stats.owed += owed;
    const timeout = Date.now() + settings.drainTimeoutMs;
    // The end of the run cuts a wait short: the deadline is the drain's.
    const until = () => Math.min(timeout, deadline);
    this.drainTarget = owed;
    while (this.seqs.size < owed && Date.now() < until()) {
      if (!this.socket) {
        if (!(await this.ensureConnected(until()))) break;
        continue;
      }
      await this.wake.wait(Math.min(until() - Date.now(), 1000));
    }
    this.drainTarget = Number.POSITIVE_INFINITY;
    stats.missing += Math.max(0, owed - this.seqs.size);
    for (const seq of this.seqs) if (seq > owed) stats.beyondOwed++;
    if (this.seqs.size < owed) {
      const lost: Record<string, number> = {};
      for (let seq = 1; seq <= owed; seq++) if (!this.seqs.has(seq)) bump(lost, types[seq - 1] ?? '?');
      const what = Object.entries(lost)
        .map(([type, n]) => `${type} x${n}`)
        .join(', ');
      sample(`${this.spec.identity} session ${this.sessionId} epoch ${this.epoch} (${this.subscriptionLabel()}): ${owed - this.seqs.size} of ${owed} owed events never arrived: ${what}`);
    }

    // Log out with the socket open (it must close with 4000), or after closing it.
    if (this.socket && Math.random() < 0.3) await this.drop('close');
    await this.logout();
    if (Math.random() < 0.2) await this.checkRevoked();
    if (Math.random() < 0.1) {
      stats.secondLogoutChecks++;
      const again = await http('POST', `${pickGateway()}/logout/${encodeURIComponent(this.spec.identity)}`, this.accessToken);
      if (again.status === 404) stats.secondLogout404++;
      else this.failed('second logout (404 expected)', again);
    }
  }

  private async logout(): Promise<void> {
    const socket = this.socket;
    let closed: Promise<number | undefined> = Promise.resolve(undefined);
    if (socket) {
      this.intent = 'logout';
      closed = new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), LOGOUT_CLOSE_TIMEOUT_MS);
        this.closeListener = (code) => {
          clearTimeout(timer);
          resolve(code);
        };
      });
    }
    this.logoutSentAt = Date.now();
    const answer = await http('POST', `${pickGateway()}/logout/${encodeURIComponent(this.spec.identity)}`, this.accessToken);
    if (answer.status === 200) stats.logouts++;
    else this.failed('logout', answer);
    if (!socket) return;
    stats.logoutsWithSocket++;
    const code = await closed;
    if (code === 4000) stats.logoutClose4000++;
    else {
      bump(stats.errors, `logout: socket closed with ${code ?? 'nothing within 5 s'} instead of 4000`);
      sample(`${this.spec.identity} session ${this.sessionId}: logout answered ${answer.status}, the socket closed with ${code ?? 'nothing'} ${Date.now() - this.logoutSentAt} ms after the logout was sent`);
      if (this.socket === socket) {
        this.intent = 'drop';
        socket.terminate();
      }
    }
  }

  /** After logout the webSocketToken must be refused with 401 before the upgrade (a connection-level failure is tried again). */
  private async checkRevoked(): Promise<void> {
    stats.revokedChecks++;
    let outcome = '';
    for (let attempt = 1; attempt <= 3; attempt++) {
      outcome = await this.probe();
      if (!outcome.startsWith('error')) break;
      bump(stats.errors, `connect: ${outcome}`);
    }
    if (outcome === 'http 401') stats.revokedRefused++;
    else bump(stats.errors, `revoked webSocketToken: ${outcome} instead of 401`);
  }

  private probe(): Promise<string> {
    const url = `${pickGateway().replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(this.wsToken)}`;
    return new Promise<string>((resolve) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: WELCOME_TIMEOUT_MS });
      socket.on('unexpected-response', (req, res) => {
        resolve(`http ${res.statusCode}`);
        req.destroy();
      });
      socket.on('open', () => {
        resolve('accepted');
        socket.terminate();
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    });
  }

  private async hold(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!finishing && Date.now() < until) {
      if (!this.socket) {
        // The server closed the socket: reconnect and resume, as a real client would.
        stats.serverCloseReconnects++;
        if (!(await this.ensureConnected())) return;
        continue;
      }
      await this.wake.wait(until - Date.now());
    }
  }

  private async drop(how: 'terminate' | 'close'): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.intent = 'drop';
    const closed = new Promise<void>((resolve) => (this.closeListener = () => resolve()));
    if (how === 'terminate') socket.terminate();
    else socket.close(1000, 'soak: client closing');
    await Promise.race([closed, sleep(5_000)]);
    if (this.socket === socket) {
      socket.terminate();
      await closed;
    }
  }

  /** Opens a socket for the session (resuming after the last id seen, once the session has had a welcome). */
  private async ensureConnected(until = finishing ? deadline : Date.now() + 60_000): Promise<boolean> {
    for (let attempt = 1; Date.now() < until; attempt++) {
      const outcome = await this.connectOnce();
      if (outcome === 'ok') return true;
      bump(stats.errors, `connect: ${outcome}`);
      if (outcome === 'http 401' || outcome === 'http 404') return false;
      await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
    }
    bump(stats.errors, 'connect: gave up');
    return false;
  }

  private connectOnce(): Promise<string> {
    // Without lastEventId the gateway replays after the last event it wrote to a socket of the session, which
    // includes sockets this client gave up on before it read them; only the very first socket may leave it out.
    const resume = this.attempts++ > 0;
    const base = pickGateway().replace(/^http/, 'ws');
    const url = `${base}/ws?token=${encodeURIComponent(this.wsToken)}${resume ? `&lastEventId=${this.lastId}` : ''}`;
    stats.connects++;
    return new Promise((resolve) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: WELCOME_TIMEOUT_MS });
      let welcomed = false;
      let settled = false;
      const settle = (outcome: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        socket.terminate();
        settle('no welcome within 10 s');
      }, WELCOME_TIMEOUT_MS);
      socket.on('unexpected-response', (req, res) => {
        settle(`http ${res.statusCode}`);
        req.destroy();
      });
      socket.on('error', (error: NodeJS.ErrnoException) => settle(`error ${error.code ?? error.message}`));
      socket.on('message', (data) => {
        let message: any;
        try {
          message = JSON.parse(data.toString());
        } catch {
          bump(stats.errors, 'protocol: a message that is not JSON');
          return;
        }
        if (welcomed) return this.onMessage(socket, message);
        if (message?.type !== 'welcome') {
          bump(stats.errors, `protocol: first message was ${message?.type}, not welcome`);
          return;
        }
        welcomed = true;
        this.onWelcome(message, resume);
        this.socket = socket;
        this.welcomedAt = Date.now();
        this.intent = 'none';
        connected++;
        settle('ok');
      });
      socket.on('close', (code) => {
        bump(stats.closeCodes, String(code));
        if (!welcomed) return settle(`closed with ${code} before the welcome`);
        this.onClose(socket, code);
      });
    });
  }

  private onWelcome(welcome: { sessionId: string; identity: string; lastEventId: string; recovered: boolean }, resume: boolean): void {
    if (welcome.identity !== this.spec.identity) stats.misrouted++;
    if (resume) {
      stats.resumes++;
      if (welcome.recovered !== true) stats.notRecovered++;
      if (this.sessionId !== undefined && welcome.sessionId !== this.sessionId) stats.sessionChanged++;
      if (Number(welcome.lastEventId) < this.lastId) bump(stats.errors, 'welcome: lastEventId behind the last id received');
    }
    this.sessionId = welcome.sessionId;
  }

  private onClose(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    connected--;
    const expected = this.intent === 'drop' || (this.intent === 'logout' && code === 4000);
    if (!expected) bump(stats.unexpectedCloses, String(code));
    this.intent = 'none';
    const listener = this.closeListener;
    this.closeListener = undefined;
    listener?.(code);
    this.wake.wake();
  }

  private onMessage(socket: WebSocket, message: any): void {
    if (socket !== this.socket) return;
    if (message?.type !== 'event') {
      if (message?.type === 'error') bump(stats.errors, `protocol: error message: ${message.message}`);
      return;
    }
    const id = Number(message.id);
    if (!(id > this.lastId)) {
      stats.idRepeats++;
      return;
    }
    if (id !== this.lastId + 1) stats.idHoles += id - this.lastId - 1;
    this.lastId = id;
    if (message.identity !== this.spec.identity) {
      stats.misrouted++;
      return;
    }
    const data = message.data ?? {};
    if (data.filtered) {
      stats.filteredDelivered++;
      sample(
        `${this.spec.identity} epoch ${this.epoch} (${this.subscriptionLabel()}): got ${message.event} id ${id}, which the subscription excludes; ` +
          `published ${Date.now() - data.sentAt} ms ago, ${data.sentAt - this.subscribedAt} ms after the subscription was answered`,
      );
      return;
    }
    if (data.epoch !== this.epoch) {
      stats.stale++;
      sample(`${this.spec.identity} epoch ${this.epoch}: got ${message.event} id ${id} of epoch ${data.epoch}`);
      return;
    }
    const seq = data.seq as number;
    if (this.seqs.has(seq)) {
      stats.duplicates++;
      return;
    }
    if (seq !== this.maxSeq + 1) stats.outOfOrder++;
    this.seqs.add(seq);
    receivedTotal++;
    if (seq > this.maxSeq) this.maxSeq = seq;
    if (typeof data.sentAt === 'number') {
      (data.sentAt >= this.welcomedAt ? latency : replayLatency)[Math.min(LATENCY_MAX_MS, Math.max(0, Date.now() - data.sentAt))]++;
    }
    if (this.seqs.size >= this.drainTarget) this.wake.wake();
  }

  private subscriptionLabel(): string {
    return this.subset ? 'subset' : this.keptDefault ? 'all, kept from setup' : 'all';
  }

  private failed(operation: string, answer: SoftAnswer): false {
    bump(stats.errors, `${operation}: ${answer.error ?? `HTTP ${answer.status}`}`);
    return false;
  }
}

function progress(): Progress {
  return { received: receivedTotal, connected, reconnects: stats.reconnects + stats.serverCloseReconnects, logouts: stats.logouts, errors: errorCount() };
}

function report(): void {
  stats.clients = clients.length;
  stats.received = receivedTotal;
  stats.unfinished = clients.filter((c) => !c.done).length;
  stats.latency = [];
  stats.replayLatency = [];
  latency.forEach((count, ms) => count && stats.latency.push([ms, count]));
  replayLatency.forEach((count, ms) => count && stats.replayLatency.push([ms, count]));
  send({ type: 'report', stats });
}

let runs: Promise<unknown> = Promise.resolve();

process.on('message', (message: ParentMessage) => {
  switch (message.cmd) {
    case 'init':
      settings = message.settings;
      clients.push(...settings.clients.map((spec) => new SoakClient(spec)));
      send({ type: 'ready' });
      break;
    case 'start':
      runs = openDevIssuer(loadConfig({ DEV_KEY_DIR: settings.devKeyDir })).then(({ signer }) =>
        Promise.all(
          clients.map((client) =>
            client.run(signer).catch((error: Error) => {
              bump(stats.errors, `client crashed: ${error.message}`);
            }),
          ),
        ),
      );
      setInterval(() => send({ type: 'progress', progress: progress() }), 5_000).unref();
      break;
    case 'owed': {
      const waiter = owedWaiters.get(message.identity);
      owedWaiters.delete(message.identity);
      waiter?.(message);
      break;
    }
    case 'finish':
      finishing = true;
      deadline = message.deadline;
      for (const client of clients) client.wake.wake();
      // Report when every client logged out, or a little after the deadline with what is known.
      void Promise.race([runs, sleep(deadline - Date.now() + 10_000)]).then(report);
      break;
  }
});

// The parent is gone: nothing to report to.
process.on('disconnect', () => process.exit(0));
