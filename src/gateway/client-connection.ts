import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { RawData, WebSocket } from 'ws';
import { Interned } from '../common/interned';
import { WebSocketConfig } from '../config/gateway-config';
import { BufferedEvent, BufferSlice, Delivery, EventBuffer } from '../events/event-buffer';
import { EffectiveSubscription } from '../events/subscription.dto';
import { SubscriptionService } from '../events/subscription.service';
import { Metrics } from '../metrics/metrics';
import { Session } from '../session/session';
import { CloseCode, parseClientMessage, ServerMessage } from './messages';
import { writeTextFrame } from './text-frame';

const ERROR_LIMIT = 10;
const ERROR_WINDOW_MS = 60_000;
/** How long a closing socket may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 5_000;

export interface ConnectionContext {
  /** A `ready` or `decline` for a held-up call; false when no such call waits for this session. */
  readonly answer: (session: Session, callId: string, answer: 'ready' | 'decline') => Promise<boolean>;
  readonly buffer: EventBuffer;
  readonly metrics: Metrics;
  readonly subscriptions: SubscriptionService;
  readonly config: WebSocketConfig;
  readonly log: Logger;
}

/** The connection a socket belongs to: lets every socket share the same listener functions. */
const OWNER = Symbol('vora.connection');
type OwnedSocket = WebSocket & { [OWNER]?: ClientConnection };

const sharedSubscriptions = new Interned<EffectiveSubscription>();

/**
 * One frozen object per distinct subscription: every connection keeps its
 * subscription (to restore it after a store outage), and at 10,000 sockets a
 * copy each costs about 180 bytes apiece. Frozen, so that no holder can
 * change what the others see.
 */
export function shared(subscription: EffectiveSubscription): EffectiveSubscription {
  return sharedSubscriptions.get(`${subscription.subscribeAll}:${subscription.events.join(',')}`, () =>
    Object.freeze({ subscribeAll: subscription.subscribeAll, events: Object.freeze([...subscription.events]) as string[] }),
  );
}

/**
 * One client socket holding one session. Events reach it in id order, once:
 * on connect it replays the buffer after `lastEventId`, live deliveries that
 * arrive meanwhile wait, and a hole in the ids (a lost bus message) is filled
 * from the buffer before anything newer is written.
 */
export class ClientConnection {
  readonly id = randomUUID();
  /** False between a ping and its pong. */
  alive = true;
  /** The subscription in force, kept to restore it if the store loses it. */
  subscription?: EffectiveSubscription;
  /** Set when the session itself ended (logout, replacement): nothing is kept for it after close. */
  sessionEnded = false;
  /** The store's epoch when this socket opened; a different one later means the store lost its data. */
  storeEpoch?: string;
  private lastSentId = 0;
  private persistedId = 0;
  private catchingUp = true;
  /** Deliveries waiting for a catch-up; created when first needed, like errorTimes (most sockets never need them). */
  private pending?: BufferedEvent[];
  private errorTimes?: number[];
  private closing = false;
  private closeListener?: (connection: ClientConnection) => void;

  // Listeners shared by every socket rather than closures per connection: memory per idle socket is a target (issue 7).
  private static readonly onSocketMessage = function (this: OwnedSocket, data: RawData, isBinary: boolean): void {
    this[OWNER]!.onMessage(data, isBinary);
  };
  private static readonly onSocketPong = function (this: OwnedSocket): void {
    this[OWNER]!.alive = true;
  };
  private static readonly onSocketClose = function (this: OwnedSocket, code: number): void {
    const connection = this[OWNER]!;
    connection.context.metrics.socketCloses.inc({ code: String(code) });
    connection.closeListener?.(connection);
  };

  constructor(
    private readonly socket: WebSocket,
    readonly session: Session,
    private readonly context: ConnectionContext,
  ) {
    (socket as OwnedSocket)[OWNER] = this;
    socket.on('message', ClientConnection.onSocketMessage);
    socket.on('pong', ClientConnection.onSocketPong);
    // `on`, not `once`: a socket closes once, and `once` would wrap the listener in a closure per socket.
    socket.on('close', ClientConnection.onSocketClose);
  }

  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  /** The one listener for the socket's close (the registry's). */
  onClose(listener: (connection: ClientConnection) => void): void {
    this.closeListener = listener;
  }

  /** Sends the welcome, then everything buffered after `lastEventId` (or after the last event written). */
  async open(lastEventId: number | undefined): Promise<void> {
    const { buffer, subscriptions, config } = this.context;
    const { session } = this;
    const after = lastEventId ?? (await buffer.lastWritten(session.id));
    const slice = await buffer.readAfter(session.id, after);
    const subscription = await subscriptions.current(session.sub, session.identity, session.mode);
    this.subscription = shared(subscription);
    const recovered = isRecovered(after, slice);
    if (lastEventId !== undefined) this.context.metrics.resumes.inc({ recovered: String(recovered) });
    this.send({
      type: 'welcome',
      sessionId: session.id,
      identity: session.identity,
      mode: session.mode,
      subscription,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      lastEventId: String(slice.newestId),
      recovered,
    });
    // An id the session never reached (a stale client) must not hide the events to come.
    this.lastSentId = Math.min(after, slice.newestId);
    await this.catchUp(slice);
  }

  /** A live event for this session, from the bus. */
  deliver(event: Delivery): void {
    if (this.closing) return;
    if (this.catchingUp) {
      (this.pending ??= []).push(event);
    } else if (event.id === this.lastSentId + 1) {
      this.write(event);
    } else if (event.id > this.lastSentId) {
      (this.pending ??= []).push(event);
      void this.catchUp();
    }
  }

  ping(): void {
    this.alive = false;
    this.socket.ping();
  }

  /** The newest id written to this socket. */
  get lastWrittenId(): number {
    return this.lastSentId;
  }

  /** The newest id written, when it has not been recorded yet (for resume without lastEventId). */
  unpersistedWrittenId(): number | undefined {
    if (this.lastSentId <= this.persistedId) return undefined;
    this.persistedId = this.lastSentId;
    return this.lastSentId;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.closing = true;
    this.socket.terminate();
  }

  /**
   * Writes buffered events after lastSentId, then the deliveries that waited,
   * reading the buffer again while a hole remains.
   */
  private async catchUp(initial?: BufferSlice): Promise<void> {
    if (this.catchingUp && !initial) return;
    this.catchingUp = true;
    try {
      let slice = initial ?? (await this.context.buffer.readAfter(this.session.id, this.lastSentId));
      for (;;) {
        // Ids may jump where the buffer had already dropped events (recovered: false).
        for (const event of slice.events) if (event.id > this.lastSentId) this.write(event);
        // A socket that stopped taking writes would never fill the hole: looping on would starve the process.
        if (!this.drainPending() || !this.isOpen) break;
        slice = await this.context.buffer.readAfter(this.session.id, this.lastSentId);
        if (!slice.events.some((event) => event.id > this.lastSentId)) {
          throw new Error(`the events after ${this.lastSentId} are no longer buffered`);
        }
      }
    } catch (error) {
      this.context.log.warn(`session ${this.session.id}: replay failed: ${(error as Error).message}`);
      this.close(CloseCode.InternalError, 'replay failed; reconnect with lastEventId');
    } finally {
      this.catchingUp = false;
    }
  }

  /** Writes waiting deliveries in order; true when a hole remains. */
  private drainPending(): boolean {
    const waiting = this.pending?.sort((a, b) => a.id - b.id) ?? [];
    this.pending = undefined;
    for (let i = 0; i < waiting.length; i++) {
      const event = waiting[i];
      if (event.id <= this.lastSentId) continue;
      if (event.id !== this.lastSentId + 1) {
        this.pending = waiting.slice(i);
        return true;
      }
      this.write(event);
    }
    return false;
  }

  /** Live deliveries carry `acceptedAt`; replays from the buffer do not. */
  private write(event: BufferedEvent & { readonly acceptedAt?: number }): void {
    // An event handed to a closing socket is not written: resume without lastEventId must send it again.
    if (!this.isOpen) return;
    // A client that does not read must not make the gateway hold its backlog; it resumes from the buffer.
    if (this.socket.bufferedAmount > this.context.config.maxBufferedBytes) {
      this.close(CloseCode.TooSlow, 'too slow; reconnect with lastEventId');
      return;
    }
    writeTextFrame(this.socket, event.frame);
    this.lastSentId = event.id;
    const { metrics } = this.context;
    if (event.acceptedAt === undefined) {
      metrics.delivered.replay++;
    } else {
      metrics.delivered.live++;
      metrics.deliveryLatency.observe((Date.now() - event.acceptedAt) / 1000);
    }
  }

  private send(message: ServerMessage): void {
    if (!this.closing) this.socket.send(JSON.stringify(message));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.close(CloseCode.UnsupportedData, 'binary frames are not supported');
    const message = parseClientMessage(data.toString());
    if (typeof message === 'string') return this.reject(message);
    if (message.type === 'ping') return this.send({ type: 'pong' });
    void this.answerCall(message.callId, message.type);
  }

  private async answerCall(callId: string, answer: 'ready' | 'decline'): Promise<void> {
    try {
      if (await this.context.answer(this.session, callId, answer)) return;
      this.send({ type: 'error', message: `call ${callId} is not waiting for an answer from this session` });
    } catch (error) {
      this.context.log.warn(`session ${this.session.id}: ${answer} for call ${callId} failed: ${(error as Error).message}`);
      this.send({ type: 'error', message: `the ${answer} for call ${callId} could not be recorded; send it again` });
    }
  }

  /** Answers an invalid message; a client that keeps sending garbage is closed with 1008. */
  private reject(message: string): void {
    const now = Date.now();
    this.errorTimes = (this.errorTimes ?? []).filter((t) => now - t < ERROR_WINDOW_MS);
    this.errorTimes.push(now);
    if (this.errorTimes.length > ERROR_LIMIT) return this.close(CloseCode.PolicyViolation, 'too many invalid messages');
    this.send({ type: 'error', message });
  }
}

/** True when every event after `after` is still in the buffer. */
export function isRecovered(after: number, slice: BufferSlice): boolean {
  if (after > slice.newestId) return false;
  if (after === slice.newestId) return true;
  return slice.oldestId > 0 && slice.oldestId <= after + 1;
}
