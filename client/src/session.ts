import { BACKOFF, backoffDelay, HEARTBEAT_GRACE_MS } from './backoff.js';
import { VoraCloseError, VoraError, VoraNetworkError, VoraProtocolError, VoraRequestError, VoraUsageError } from './errors.js';
import { CLOSE_RULES, CloseAction, ConnectionType, EventMessage, VoraEventMap, VoraEventName, WelcomeMessage } from './protocol.js';
import { startTimer, stopTimer, Timer } from './timers.js';
import { AccessTokenSource, tokenFrom, Transport, TransportOptions, WebSocketLike } from './transport.js';

export type SessionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** An event of the shipped catalogue, its `data` typed by its name. */
export type KnownVoraEvent = { [Name in VoraEventName]: EventMessage<Name, VoraEventMap[Name]> }[VoraEventName];
/** Any event: the catalogue's, or one an operator added to it after this library was built. */
export type VoraEvent = KnownVoraEvent | EventMessage;

export interface Subscription {
  subscribeAll: boolean;
  events?: string[];
}

/** The effective subscription the gateway answers with: its events always listed. */
export interface EffectiveSubscription {
  subscribeAll: boolean;
  events: string[];
}

/**
 * The app's view may be stale: `events-lost` when the gateway no longer had
 * the events after `lastEventId` (`recovered: false`), `new-session` when the
 * session expired and a new one was set up (ids restarted at 1).
 */
export interface ResyncNotice {
  reason: 'events-lost' | 'new-session';
  welcome: WelcomeMessage;
}

export interface SessionListeners {
  event: (event: VoraEvent) => void;
  state: (state: SessionState) => void;
  welcome: (welcome: WelcomeMessage) => void;
  error: (error: VoraError) => void;
  resync: (notice: ResyncNotice) => void;
}

type Listeners = SessionListeners & { [Name in VoraEventName]: (event: EventMessage<Name, VoraEventMap[Name]>) => void };

export interface ResumeOptions extends TransportOptions {
  webSocketToken: string;
  /** The newest event id the app handled before (session.lastEventId); "0" or absent: everything buffered. */
  lastEventId?: string;
  /** Lets subscribe, logout and a new session after 4001 work after a reload too. */
  accessToken?: AccessTokenSource;
  /** How the session was set up, for a new session after 4001 (default WEB). */
  connectionType?: ConnectionType;
  holdUpMode?: boolean;
}

/** What VoraClient.openSession knows besides the resume options. */
interface SessionSetup {
  identity?: string;
  connectionType: ConnectionType;
  holdUpMode?: boolean;
}

/** A token refused at the handshake twice, while the gateway answered REST, is taken as revoked (browsers cannot see the 401). */
const REFUSALS_BEFORE_REVOKED = 2;

/**
 * One session's socket, kept open: it reconnects with backoff and resumes
 * with `lastEventId`, so listeners see every event once and in order; it
 * watches the heartbeat and follows the close-code rules of SPEC section 11.
 */
export class VoraSession {
  private readonly transport: Transport;
  private readonly accessToken?: AccessTokenSource;
  private readonly setup: SessionSetup;
  private readonly listeners = new Map<string, Set<(value: never) => void>>();
  private token: string;
  private currentState: SessionState = 'connecting';
  private lastWelcome?: WelcomeMessage;
  /** The newest event id handed to listeners. */
  private newestId: number;
  private socket?: WebSocketLike;
  private welcomed = false;
  private attempt = 0;
  private refusals = 0;
  private renewing = false;
  private renewed = false;
  private reconnectTimer?: Timer;
  /** What the reconnect timer will do (reconnect, or set up a new session); the `online` event does it at once. */
  private pendingRetry?: () => void;
  private stableTimer?: Timer;
  private watchdog?: Timer;
  private pinger?: Timer;
  private readonly onOnline = () => this.retryNow();

  /** Use VoraClient.openSession, or VoraSession.resume after a reload. */
  private constructor(options: ResumeOptions, setup: SessionSetup) {
    this.transport = new Transport(options);
    this.accessToken = options.accessToken;
    this.setup = setup;
    this.token = options.webSocketToken;
    this.newestId = parseId(options.lastEventId);
    onlineEvents()?.addEventListener('online', this.onOnline);
    this.connect();
  }

  /**
   * Reconnects to a session set up earlier, e.g. after a page reload, with
   * the saved webSocketToken and lastEventId: the events after it follow.
   */
  static resume(options: ResumeOptions): VoraSession {
    return new VoraSession(options, { connectionType: options.connectionType ?? 'WEB', holdUpMode: options.holdUpMode });
  }

  /** @internal VoraClient.openSession's way in. */
  static open(options: ResumeOptions, setup: SessionSetup): VoraSession {
    return new VoraSession(options, setup);
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** The latest welcome, once connected. */
  get welcome(): WelcomeMessage | undefined {
    return this.lastWelcome;
  }

  /** The newest event id handed to listeners ("0" before any); save it with the token to resume later. */
  get lastEventId(): string {
    return String(this.newestId);
  }

  get webSocketToken(): string {
    return this.token;
  }

  get sessionId(): string | undefined {
    return this.lastWelcome?.sessionId;
  }

  /** Adds a listener; returns the function that removes it. */
  on<Name extends keyof Listeners>(name: Name, listener: Listeners[Name]): () => void;
  on(name: string, listener: (event: EventMessage) => void): () => void;
  on(name: string, listener: (value: never) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  /** POST /identity/{identity}/eventSubscription: takes effect at once on this socket. */
  async subscribe(subscription: Subscription): Promise<EffectiveSubscription> {
    const token = await tokenFrom(this.accessToken, 'subscribe');
    return this.transport.request<EffectiveSubscription>('POST', `/identity/${encodeURIComponent(this.identity('subscribe'))}/eventSubscription`, token, subscription);
  }

  /** A holdUpMode client is ready for the call it was woken for. */
  ready(callId: string): void {
    this.sendMessage({ type: 'ready', callId });
  }

  decline(callId: string): void {
    this.sendMessage({ type: 'decline', callId });
  }

  /** POST /logout/{identity}: ends the session (and the identity's other sessions of this caller), then closes. */
  async logout(): Promise<void> {
    const token = await tokenFrom(this.accessToken, 'logout');
    await this.transport.request<void>('POST', `/logout/${encodeURIComponent(this.identity('logout'))}`, token);
    this.finish();
  }

  /** Closes the socket and stops reconnecting; the session stays, to be resumed later with VoraSession.resume. */
  close(): void {
    this.finish();
  }

  private identity(what: string): string {
    const identity = this.setup.identity ?? this.lastWelcome?.identity;
    if (!identity) throw new VoraUsageError(`${what} needs the session's identity: wait for the welcome`);
    return identity;
  }

  private sendMessage(message: { type: string; callId?: string }): void {
    if (!this.welcomed || !this.transport.isOpen(this.socket)) {
      throw new VoraUsageError(`${message.type} needs a connected session (state is ${this.currentState})`);
    }
    this.socket!.send(JSON.stringify(message));
  }

  private connect(): void {
    let socket: WebSocketLike;
    try {
      socket = this.transport.openSocket(this.transport.socketUrl(this.token, this.lastEventId));
    } catch (error) {
      this.emit('error', error instanceof VoraError ? error : new VoraNetworkError(String(error), error));
      return this.finish();
    }
    this.socket = socket;
    this.welcomed = false;
    let failure: string | undefined;
    socket.onmessage = (message) => this.onMessage(socket, message.data);
    socket.onerror = (event) => (failure = event.message ?? (event.error as Error | undefined)?.message);
    socket.onclose = (event) => this.onClose(socket, event.code, event.reason, failure);
    // `ws` shows protocol pings; a browser does not, and relies on the pongs to its own pings.
    (socket as { on?: (name: string, listener: () => void) => void }).on?.('ping', () => socket === this.socket && this.heard());
    this.heard();
    this.transport.logger.debug?.(`connecting (lastEventId ${this.lastEventId})`);
  }

  private onMessage(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.socket) return;
    this.heard();
    let message: { type?: string } & Record<string, unknown>;
    try {
      message = JSON.parse(String(data));
    } catch {
      return this.transport.logger.warn?.('the gateway sent a frame that is not JSON; ignored');
    }
    switch (message.type) {
      case 'welcome':
        return this.onWelcome(message as unknown as WelcomeMessage);
      case 'event':
        return this.onEvent(message as unknown as EventMessage);
      case 'error':
        return this.emit('error', new VoraProtocolError(String(message.message)));
      default:
        return; // pong, or a message type newer than this library
    }
  }

  private onWelcome(welcome: WelcomeMessage): void {
    this.welcomed = true;
    this.refusals = 0;
    this.lastWelcome = welcome;
    this.heard();
    stopTimer(this.stableTimer);
    this.stableTimer = startTimer(() => (this.attempt = 0), BACKOFF.stableAfterMs);
    const lost = !welcome.recovered;
    // The ids after a lost stretch may restart below ours (a store that lost the session's buffer).
    if (lost) this.newestId = Math.min(this.newestId, Number(welcome.lastEventId));
    const renewed = this.renewed;
    this.renewed = false;
    this.transport.logger.info?.(`connected to session ${welcome.sessionId} (recovered: ${welcome.recovered})`);
    this.setState('connected');
    this.emit('welcome', welcome);
    if (renewed) this.emit('resync', { reason: 'new-session', welcome });
    else if (lost) this.emit('resync', { reason: 'events-lost', welcome });
  }

  private onEvent(event: EventMessage): void {
    const id = Number(event.id);
    // A replay after a reconnect starts after lastEventId; anything older was handed out already.
    if (!(id > this.newestId)) return;
    this.newestId = id;
    this.emit('event', event);
    this.emit(event.event, event);
  }

  private onClose(socket: WebSocketLike, code: number, reason: string, failure: string | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.stopTimers();
    if (this.currentState === 'closed') return;
    if (!this.welcomed) return void this.onRefused(code, failure);
    const rule = CLOSE_RULES[code];
    const action: CloseAction = rule?.action ?? 'resume';
    this.transport.logger.info?.(`socket closed with ${code}${reason ? ` (${reason})` : ''}: ${action}`);
    const error = new VoraCloseError(code, reason, `the gateway closed the socket with ${code}: ${rule?.meaning ?? (reason || 'no reason given')}`);
    switch (action) {
      case 'stop':
        this.emit('error', error);
        return this.finish();
      case 'new-session':
        return void this.renew(error);
      case 'fix-client':
        this.emit('error', error);
        return this.scheduleReconnect();
      default:
        return this.scheduleReconnect();
    }
  }

  /**
   * A handshake that never reached the welcome. `ws` tells the HTTP status of
   * a refused upgrade; a browser only sees 1006, so the gateway's REST API is
   * asked whether it is up: a token refused while it is, twice, is revoked.
   */
  private async onRefused(code: number, failure: string | undefined): Promise<void> {
    const status = Number(/Unexpected server response: (\d{3})/.exec(failure ?? '')?.[1]) || undefined;
    this.transport.logger.info?.(`the socket did not open (${status ? `HTTP ${status}` : `close ${code}`})`);
    const revoked = new VoraCloseError(4001, 'the webSocketToken is unknown, revoked or expired', 'the gateway refused the webSocketToken: the session is over');
    if (status === 401) return this.renew(revoked);
    if (status === 400 || status === 403) {
      this.emit('error', new VoraCloseError(code, failure ?? '', `the gateway refused the socket with HTTP ${status}: check the origin and the URL`));
      return this.finish();
    }
    if (status === undefined && code === 1006 && (await this.gatewayAnswers())) {
      if (++this.refusals >= REFUSALS_BEFORE_REVOKED) return this.renew(revoked);
    }
    if (this.currentState !== 'closed') this.scheduleReconnect();
  }

  private async gatewayAnswers(): Promise<boolean> {
    try {
      await this.transport.request('OPTIONS', '/identity', undefined);
      return true;
    } catch (error) {
      return error instanceof VoraRequestError;
    }
  }

  /** 4001: a new session through the access token, when there is one; ids restart. */
  private async renew(cause: VoraCloseError): Promise<void> {
    if (!this.accessToken) {
      this.emit('error', cause);
      return this.finish();
    }
    if (this.renewing || this.currentState === 'closed') return;
    this.renewing = true;
    this.setState('reconnecting');
    try {
      const accessToken = await tokenFrom(this.accessToken, 'a new session');
      const identity = this.identity('a new session');
      const previous = this.lastWelcome?.subscription;
      const { webSocketToken } = await this.transport.request<{ webSocketToken: string }>('POST', '/identity/setup', accessToken, {
        connectionType: this.setup.connectionType,
        identity,
        ...(this.setup.holdUpMode ? { holdUpMode: true } : {}),
      });
      // The subscription belongs to the identity; keep the app's choice if the gateway started a fresh one.
      if (previous && !previous.subscribeAll) {
        await this.transport.request('POST', `/identity/${encodeURIComponent(identity)}/eventSubscription`, accessToken, previous);
      }
      if (this.isClosed()) return;
      this.token = webSocketToken;
      this.newestId = 0;
      this.renewed = true;
      this.transport.logger.info?.('set up a new session after the old one ended');
      this.connect();
    } catch (error) {
      const failure = error instanceof VoraError ? error : new VoraNetworkError(String(error), error);
      this.emit('error', failure);
      // The caller lost the identity or the mode: nothing to retry. An outage is retried.
      if (failure instanceof VoraRequestError && failure.status < 500 && failure.status !== 429) return this.finish();
      this.scheduleRenew(cause);
    } finally {
      this.renewing = false;
    }
  }

  private scheduleRenew(cause: VoraCloseError): void {
    this.schedule(() => void this.renew(cause));
  }

  private scheduleReconnect(): void {
    this.schedule(() => this.connect());
  }

  private schedule(retry: () => void): void {
    if (this.currentState === 'closed') return;
    this.setState('reconnecting');
    const delay = backoffDelay(this.attempt++);
    this.transport.logger.debug?.(`retrying in ${delay} ms`);
    this.pendingRetry = retry;
    this.reconnectTimer = startTimer(() => this.runRetry(), delay);
  }

  private runRetry(): void {
    const retry = this.pendingRetry;
    this.pendingRetry = undefined;
    this.reconnectTimer = undefined;
    retry?.();
  }

  /** The browser is back online: waiting out the backoff would only delay the resume. */
  private retryNow(): void {
    if (this.reconnectTimer === undefined || this.currentState === 'closed') return;
    stopTimer(this.reconnectTimer);
    this.transport.logger.debug?.('back online: retrying now');
    this.runRetry();
  }

  /** Something arrived: the connection lives. Pings from our side keep pongs coming where protocol pings are invisible. */
  private heard(): void {
    const interval = this.lastWelcome?.heartbeatIntervalMs ?? 25_000;
    stopTimer(this.watchdog);
    stopTimer(this.pinger);
    this.watchdog = startTimer(() => this.onSilence(), interval + HEARTBEAT_GRACE_MS);
    if (this.welcomed) {
      this.pinger = startTimer(() => this.transport.isOpen(this.socket) && this.socket!.send('{"type":"ping"}'), interval);
    }
  }

  private onSilence(): void {
    const socket = this.socket;
    if (!socket) return;
    this.transport.logger.warn?.('no message or ping for the heartbeat interval plus 10 s: reconnecting');
    this.socket = undefined;
    this.stopTimers();
    detach(socket);
    socket.close(1000, 'no heartbeat');
    this.scheduleReconnect();
  }

  private stopTimers(): void {
    stopTimer(this.watchdog);
    stopTimer(this.pinger);
    stopTimer(this.stableTimer);
  }

  private finish(): void {
    if (this.currentState === 'closed') return;
    stopTimer(this.reconnectTimer);
    this.reconnectTimer = this.pendingRetry = undefined;
    this.stopTimers();
    onlineEvents()?.removeEventListener('online', this.onOnline);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      detach(socket);
      socket.close(1000, 'closed by the client');
    }
    this.setState('closed');
  }

  /** Read after an await: close() may have run meanwhile. */
  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  private setState(state: SessionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private emit(name: string, value: unknown): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        (listener as (value: unknown) => void)(value);
      } catch (error) {
        // One failing listener must not cost the others their events, nor the session its socket.
        this.transport.logger.error?.(`a ${name} listener threw: ${(error as Error)?.message ?? error}`);
      }
    }
  }
}

function parseId(id: string | undefined): number {
  if (id === undefined || id === '') return 0;
  if (!/^(0|[1-9][0-9]{0,14})$/.test(id)) throw new VoraUsageError(`lastEventId must be an event id such as "42", got ${JSON.stringify(id)}`);
  return Number(id);
}

function detach(socket: WebSocketLike): void {
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

/** The browser's window (for `online`); absent in Node. */
function onlineEvents(): { addEventListener(name: string, listener: () => void): void; removeEventListener(name: string, listener: () => void): void } | undefined {
  const global = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
  return typeof global.addEventListener === 'function' && typeof global.removeEventListener === 'function'
    ? (global as never)
    : undefined;
}
