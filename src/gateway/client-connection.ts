import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { RawData, WebSocket } from 'ws';
import { Interned } from '../common/interned';
import { StoreUnavailableError } from '../common/store-unavailable';
import { WebSocketConfig } from '../config/gateway-config';
import { BufferedEvent, BufferSlice, Delivery, EventBufferStore } from '../events/event-buffer.store';
import { EffectiveSubscription } from '../subscriptions/subscription.dto';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { Metrics } from '../infra/metrics/metrics';
import { lifetimeEnd, Session } from '../session/session';
import { CloseCode, closeCodeLabel, parseClientMessage, ServerMessage } from './protocol';
import { MessageRate } from './message-rate';
import { drained, highWaterMark, writeTextFrame } from './text-frame';

const ERROR_LIMIT = 10;
const ERROR_WINDOW_MS = 60_000;
/** How long a closing socket may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 5_000;
/**
 * Events a replay reads from the buffer at a time: besides its unsent bytes,
 * what a socket holds while it waits for its client to read (50 events, a
 * few KiB typically, 850 KiB at most with 16 KiB of data each).
 */
export const REPLAY_PAGE_SIZE = 50;
/**
 * How long a delivery that overtook an earlier one waits for it before the
 * buffer is read: with several instances routing, a socket's deliveries come
 * from each of them over connections of their own, and one often overtakes
 * another by a fraction of a millisecond. At most EARLY_KEPT wait.
 */
export const HOLE_WAIT_MS = 20;
const EARLY_KEPT = 64;
const TOO_SLOW = 'too slow; reconnect with lastEventId';

export interface ConnectionContext {
  /** A `ready` or `decline` for a held-up call; false when no such call waits for this session. */
  readonly answer: (session: Session, callId: string, answer: 'ready' | 'decline') => Promise<boolean>;
  readonly buffer: EventBufferStore;
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
 * on connect it replays the buffer after `lastEventId`, and a hole in the ids
 * (a lost bus message) is filled from the buffer before anything newer is
 * written. A replay is paced by the client's reading (SPEC section 4): it
 * writes while the unsent bytes are under WS_MAX_BUFFERED_BYTES and waits for
 * the socket to drain before going on. Live deliveries that arrive meanwhile
 * are in the buffer already, so the replay only notes the newest id and
 * writes them after the rest, in order.
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
  /** When the heartbeat last refreshed the session's TTLs in the store (epoch ms; 0: at the next beat). */
  refreshedAt = 0;
  /**
   * Set once the welcome is written. Before it the socket is still opening
   * (its 101 is held back with the welcome), and a ping could not be answered.
   */
  welcomed = false;
  private lastSentId = 0;
  private persistedId = 0;
  /** True while a replay (on connect, or filling a hole) writes from the buffer. */
  private replaying = true;
  /** The newest id a live delivery announced while a replay was under way. */
  private newestLiveId = 0;
  /** Live deliveries that came before an earlier one, by id, while it is awaited (HOLE_WAIT_MS). */
  private early?: Map<number, Delivery>;
  private holeTimer?: NodeJS.Timeout;
  /** Created when first needed, like errorTimes (most sockets never send a message). */
  private messageRate?: MessageRate;
  private errorTimes?: number[];
  private closing = false;
  private closeListener?: (connection: ClientConnection) => void;

  // Listeners shared by every socket rather than closures per connection: memory per idle socket is a target.
  private static readonly onSocketMessage = function (this: OwnedSocket, data: RawData, isBinary: boolean): void {
    this[OWNER]!.onMessage(data, isBinary);
  };
  private static readonly onSocketPong = function (this: OwnedSocket): void {
    this[OWNER]!.alive = true;
  };
  private static readonly onSocketClose = function (this: OwnedSocket, code: number): void {
    const connection = this[OWNER]!;
    connection.context.metrics.socketCloses.inc({ code: closeCodeLabel(code) });
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

  /** Bytes written to the socket that the client has not taken yet. */
  get unsentBytes(): number {
    return this.socket.bufferedAmount;
  }

  /** The one listener for the socket's close (the registry's). */
  onClose(listener: (connection: ClientConnection) => void): void {
    this.closeListener = listener;
  }

  /**
   * Sends the welcome, then starts the replay of everything buffered after
   * `lastEventId` (or after the last event written). Resolves once the welcome
   * and the replay's first window are written: the rest follows as the client
   * reads, and must not hold up the upgraded socket (the adapter uncorks it
   * when this resolves).
   */
  async open(lastEventId: number | undefined): Promise<void> {
    const { buffer, subscriptions, config } = this.context;
    const { session } = this;
    const after = lastEventId ?? (await buffer.lastWritten(session.id));
    const slice = await buffer.readAfter(session.id, after, REPLAY_PAGE_SIZE);
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
      expiresAt: new Date(lifetimeEnd(session)).toISOString(),
    });
    this.welcomed = true;
    // An id the session never reached (a stale client) must not hide the events to come.
    this.lastSentId = Math.min(after, slice.newestId);
    void this.replay(slice);
  }

  /** A live event for this session, from the bus. */
  deliver(event: Delivery): void {
    if (this.closing || event.id <= this.lastSentId) return;
    if (this.replaying) {
      if (event.id > this.newestLiveId) this.newestLiveId = event.id;
    } else if (event.id === this.lastSentId + 1) {
      this.writeLive(event);
      if (this.early) this.writeEarly();
    } else {
      this.awaitHole(event);
    }
  }

  /**
   * A hole before `event`: a delivery overtaken (it is on its way) or lost
   * (the bus is at-most-once). `event` waits a little for the ones before
   * it; if they do not come, the buffer has what is missing.
   */
  private awaitHole(event: Delivery): void {
    if (event.id > this.newestLiveId) this.newestLiveId = event.id;
    this.early ??= new Map();
    this.early.set(event.id, event);
    if (this.early.size > EARLY_KEPT) return this.fillHole();
    this.holeTimer ??= setTimeout(() => this.fillHole(), HOLE_WAIT_MS);
  }

  /** Writes the early deliveries that now follow in order; the wait ends when none is left. */
  private writeEarly(): void {
    const early = this.early!;
    for (let next = early.get(this.lastSentId + 1); next; next = early.get(this.lastSentId + 1)) {
      early.delete(next.id);
      this.writeLive(next);
      if (this.lastSentId !== next.id) break; // not written (closing, too slow)
    }
    for (const id of early.keys()) if (id <= this.lastSentId) early.delete(id);
    if (!early.size) this.endHoleWait();
  }

  /**
   * Deliveries may have been lost on their way (the bus was away): writes
   * whatever the buffer has after the last id written. The store may still
   * be recovering: a read that fails leaves the socket open, as nothing is
   * known to be missing (a later delivery's hole reads it again).
   */
  catchUp(): void {
    if (!this.welcomed || this.closing || this.replaying) return;
    this.endHoleWait();
    void this.resync();
  }

  /**
   * A buffer whose newest id is below the last one this socket was sent
   * lost events (a replica promoted before it had them): its ids go on
   * after the socket's, or new events would reuse ids the client has seen
   * and be taken for duplicates.
   */
  private async resync(): Promise<void> {
    const { buffer, log } = this.context;
    try {
      const { newestId } = await buffer.readAfter(this.session.id, this.lastSentId, 1);
      if (newestId < this.lastSentId && this.isOpen) {
        await buffer.continueFrom(this.session.id, this.lastSentId);
        log.warn(`session ${this.session.id}: the store lost events ${newestId + 1}-${this.lastSentId} after they were sent; ids go on from ${this.lastSentId + 1}`);
        return;
      }
    } catch (error) {
      // The store still recovering: nothing is known to be missing; a later delivery's hole reads again.
      if (!(error instanceof StoreUnavailableError)) log.warn(`session ${this.session.id}: catching up failed: ${(error as Error).message}`);
      return;
    }
    await this.replay(undefined, { onStoreFailure: 'stay open' });
  }

  private fillHole(): void {
    this.endHoleWait();
    void this.replay();
  }

  private endHoleWait(): void {
    clearTimeout(this.holeTimer);
    this.holeTimer = undefined;
    this.early = undefined;
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
  takeUnrecordedWrittenId(): number | undefined {
    if (this.lastSentId <= this.persistedId) return undefined;
    this.persistedId = this.lastSentId;
    return this.lastSentId;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.endHoleWait();
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.closing = true;
    this.endHoleWait();
    this.socket.terminate();
  }

  /**
   * Writes the buffered events after lastSentId a page at a time, waiting
   * for the socket to drain whenever it holds a window of them, until it has
   * written the newest id known (live deliveries raise it meanwhile) and the
   * client has read what was written: only then do live writes take over,
   * with their 4008 rule. A client that stops reading holds the replay until
   * the heartbeat cuts it; its session stays for a later resume.
   */
  private async replay(first?: BufferSlice, { onStoreFailure = 'close' }: { onStoreFailure?: 'close' | 'stay open' } = {}): Promise<void> {
    if (this.replaying && !first) return;
    this.replaying = true;
    // The buffer holds whatever was waiting for a hole to fill.
    if (this.early) this.endHoleWait();
    const { buffer } = this.context;
    const window = this.replayWindow();
    const readPage = () => buffer.readAfter(this.session.id, this.lastSentId, REPLAY_PAGE_SIZE);
    try {
      let page = first ?? (await readPage());
      // Only a connect may skip ids (those that left the buffer): its welcome said recovered: false.
      let maySkip = first !== undefined;
      for (;;) {
        for (const event of page.events) {
          if (event.id <= this.lastSentId) continue;
          if (event.id !== this.lastSentId + 1 && !maySkip) {
            // The buffer dropped events before this socket got them: the client fell a whole buffer behind.
            return this.close(CloseCode.TooSlow, TOO_SLOW);
          }
          maySkip = false;
          if (this.socket.bufferedAmount >= window) await drained(this.socket);
          if (!this.isOpen) return;
          this.writeReplayed(event);
        }
        if (!this.isOpen) return;
        if (this.lastSentId >= Math.max(page.newestId, this.newestLiveId)) {
          await drained(this.socket);
          if (!this.isOpen) return;
          if (this.lastSentId >= this.newestLiveId) break;
        }
        page = await readPage();
        if (!this.isOpen) return;
        if (!page.events.some((event) => event.id > this.lastSentId)) {
          throw new Error(`the events after ${this.lastSentId} are no longer buffered`);
        }
      }
    } catch (error) {
      if (onStoreFailure === 'stay open' && error instanceof StoreUnavailableError) return;
      this.context.log.warn(`session ${this.session.id}: replay failed: ${(error as Error).message}`);
      this.close(CloseCode.InternalError, 'replay failed; reconnect with lastEventId');
    } finally {
      this.replaying = false;
    }
  }

  /**
   * The unsent bytes a replay writes before it waits: WS_MAX_BUFFERED_BYTES,
   * or the socket's high-water mark when that is larger (no drain is
   * reported below it).
   */
  private replayWindow(): number {
    return Math.max(this.context.config.maxBufferedBytes, highWaterMark(this.socket));
  }

  private writeReplayed(event: BufferedEvent): void {
    writeTextFrame(this.socket, event.frame);
    this.lastSentId = event.id;
    this.context.metrics.delivered.replay++;
  }

  /** Live deliveries carry `acceptedAt`, for the delivery latency. */
  private writeLive(event: Delivery): void {
    // An event handed to a closing socket is not written: resume without lastEventId must send it again.
    if (!this.isOpen || this.tooSlow()) return;
    writeTextFrame(this.socket, event.frame);
    this.lastSentId = event.id;
    const { metrics } = this.context;
    metrics.delivered.live++;
    if (event.acceptedAt !== undefined) metrics.deliveryLatency.observe((Date.now() - event.acceptedAt) / 1000);
  }

  private send(message: ServerMessage): void {
    if (this.isOpen && !this.tooSlow()) this.socket.send(JSON.stringify(message));
  }

  /**
   * The slow-consumer rule, checked before every write: a client that lets
   * more than WS_MAX_BUFFERED_BYTES pile up is closed with 4008 (it resumes
   * from the buffer), so that it cannot make the gateway hold its backlog. A
   * replay fills the socket up to a window on its own, so while one is under
   * way a pong or an error may add as much again.
   */
  private tooSlow(): boolean {
    const limit = this.replaying ? 2 * this.replayWindow() : this.context.config.maxBufferedBytes;
    if (this.socket.bufferedAmount <= limit) return false;
    this.close(CloseCode.TooSlow, TOO_SLOW);
    return true;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    const { messageBurst, messagesPerSecond } = this.context.config;
    if (!(this.messageRate ??= new MessageRate(messageBurst, messagesPerSecond)).take()) {
      return this.close(CloseCode.PolicyViolation, 'too many messages; slow down');
    }
    if (isBinary) return this.close(CloseCode.UnsupportedData, 'binary frames are not supported');
    const message = parseClientMessage(data.toString());
    if (typeof message === 'string') return this.reject(message);
    if (message.type === 'ping') return this.send({ type: 'pong' });
    void this.answerCall(message.callId, message.type);
  }

  /**
   * An answer counts as an invalid message until the store says the call
   * waits for this session: answers for unknown calls then cost at most
   * ERROR_LIMIT store reads a minute, however many are sent.
   */
  private async answerCall(callId: string, answer: 'ready' | 'decline'): Promise<void> {
    const counted = this.countError();
    if (counted === undefined) return;
    try {
      if (await this.context.answer(this.session, callId, answer)) return this.uncountError(counted);
      this.send({ type: 'error', message: `call ${callId} is not waiting for an answer from this session` });
    } catch (error) {
      this.uncountError(counted);
      this.context.log.warn(`session ${this.session.id}: ${answer} for call ${callId} failed: ${(error as Error).message}`);
      this.send({ type: 'error', message: `the ${answer} for call ${callId} could not be recorded; send it again` });
    }
  }

  /** Answers an invalid message; a client that keeps sending garbage is closed with 1008. */
  private reject(message: string): void {
    if (this.countError() !== undefined) this.send({ type: 'error', message });
  }

  /** Counts an invalid message and returns when it was counted; past the limit, closes with 1008 and returns undefined. */
  private countError(): number | undefined {
    const now = Date.now();
    this.errorTimes = (this.errorTimes ?? []).filter((t) => now - t < ERROR_WINDOW_MS);
    this.errorTimes.push(now);
    if (this.errorTimes.length <= ERROR_LIMIT) return now;
    this.close(CloseCode.PolicyViolation, 'too many invalid messages');
    return undefined;
  }

  /** Takes back a count (an answer that turned out valid). */
  private uncountError(countedAt: number): void {
    const index = this.errorTimes?.indexOf(countedAt) ?? -1;
    if (index >= 0) this.errorTimes!.splice(index, 1);
  }
}

/** True when every event after `after` is still in the buffer. */
export function isRecovered(after: number, slice: BufferSlice): boolean {
  if (after > slice.newestId) return false;
  if (after === slice.newestId) return true;
  return slice.oldestId > 0 && slice.oldestId <= after + 1;
}
