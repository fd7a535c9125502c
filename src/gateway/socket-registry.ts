import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ClusterEvents, SocketHolder } from '../cluster/cluster-events';
import { Instances } from '../cluster/instances';
import { GatewayConfig } from '../config/gateway-config';
import { Delivery, EventBufferStore } from '../events/event-buffer.store';
import { DeliveryBus } from '../events/delivery-bus';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { Metrics } from '../infra/metrics/metrics';
import { PresenceStore } from '../session/presence.store';
import { lifetimeEnd } from '../session/session';
import { SessionService } from '../session/session.service';
import { ClientConnection, shared } from './client-connection';
import { CloseCode } from './protocol';

/** A heartbeat pass is spread over this many ticks of HEARTBEAT_INTERVAL_MS ... */
const BEAT_TICKS = 20;
/** ... with at least this many sockets a tick. */
const BEAT_SHARE = 500;

/** How long a socket whose session vanished waits for the bus to say why, before 4001. */
const EXPIRY_GRACE_MS = 1_000;

/**
 * The sockets this instance holds, one per session. It receives deliveries
 * and session closes from the buses, runs the heartbeat that keeps live
 * sessions from expiring and cuts dead sockets, and ends sessions that lost
 * their right to the identity (checked every SESSION_RECHECK_INTERVAL_S) or
 * reached the end of their lifetime (SESSION_MAX_LIFETIME_S), with 4001.
 */
@Injectable()
export class SocketRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Sockets');
  private readonly connections = new Map<string, ClientConnection>();
  private heartbeat?: NodeJS.Timeout;
  /** The heartbeat's pass over the sockets under way (a live view: sockets opened meanwhile are included). */
  private pass?: Iterator<ClientConnection>;
  private passStartedAt = 0;
  private recheck?: NodeJS.Timeout;
  private rechecking = false;
  /**
   * Timers that close sockets when their session's lifetime ends, set once it
   * is less than a heartbeat away: a timer per socket for a day would cost
   * memory per idle socket, and the heartbeat alone would be up to an
   * interval late.
   */
  private readonly lifetimeTimers = new Map<ClientConnection, NodeJS.Timeout>();
  /** One function for every socket's close, rather than a closure each. */
  private readonly detached = (connection: ClientConnection): void => void this.detach(connection);

  constructor(
    private readonly config: GatewayConfig,
    private readonly deliveryBus: DeliveryBus,
    private readonly cluster: ClusterEvents,
    private readonly sessions: SessionService,
    private readonly buffer: EventBufferStore,
    private readonly presence: PresenceStore,
    private readonly subscriptions: SubscriptionService,
    private readonly instances: Instances,
    private readonly metrics: Metrics,
  ) {
    this.idleTtlMs = config.session.idleTtlS * 1000;
  }

  /**
   * SESSION_IDLE_TTL_S. A presence record lives that long too, as its session
   * would without a socket: it is refreshed with the session's TTLs, not at
   * every ping. A crashed instance's records are left behind, but routing
   * also asks whether their instance is alive, which it knows within seconds.
   */
  private readonly idleTtlMs: number;

  /** Where this instance holds the connection: its presence record and its claims say so. */
  private holderOf(connection: ClientConnection): SocketHolder {
    return { instanceId: this.instances.self, connectionId: connection.id };
  }

  async onModuleInit(): Promise<void> {
    this.deliveryBus.onDeliveries((deliveries) => this.dispatch(deliveries));
    const catchUp = () => {
      for (const connection of this.connections.values()) connection.catchUp();
    };
    this.deliveryBus.onMissed(catchUp);
    this.instances.onRejoined(catchUp);
    await this.cluster.listen('SessionEnded', ({ sessionId, code, reason }) => {
      const connection = this.connections.get(sessionId);
      if (!connection) return;
      connection.sessionEnded = true;
      connection.close(code, reason ?? closeReason(code));
      // In case a restore after a store outage raced the end: the session must stay gone.
      void this.sessions.forget(sessionId).catch(() => undefined);
    });
    await this.cluster.listen('SubscriptionChanged', ({ sub, identity }) => {
      for (const connection of this.connections.values()) {
        const { session } = connection;
        if (session.sub !== sub || session.identity !== identity) continue;
        void this.subscriptions
          .current(sub, identity, session.mode)
          .then((subscription) => (connection.subscription = shared(subscription)))
          .catch(() => undefined);
      }
    });
    await this.cluster.listen('SocketClaimed', ({ sessionId, connectionId }) => {
      const current = this.connections.get(sessionId);
      if (current && current.id !== connectionId) current.close(CloseCode.Replaced, 'replaced by a newer socket');
    });
    // Messages may have been missed (a session ended elsewhere): every session is checked at the next beat.
    this.cluster.onResync(() => {
      for (const connection of this.connections.values()) connection.refreshedAt = 0;
    });
    this.heartbeat = setInterval(() => void this.beat(), Math.max(1, Math.floor(this.config.ws.heartbeatIntervalMs / BEAT_TICKS)));
    this.heartbeat.unref();
    this.recheck = setInterval(() => void this.recheckAll(), this.config.session.recheckIntervalS * 1000);
    this.recheck.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.recheck);
    for (const timer of this.lifetimeTimers.values()) clearTimeout(timer);
    this.lifetimeTimers.clear();
  }

  get size(): number {
    return this.connections.size;
  }

  /**
   * Makes the connection the session's one socket, here and on every other
   * instance. Resolves once every instance knows it holds the session: what
   * they route from then on comes here, and what they routed before is in
   * the buffer for the replay that follows.
   */
  async attach(connection: ClientConnection): Promise<void> {
    const sessionId = connection.session.id;
    const previous = this.connections.get(sessionId);
    this.connections.set(sessionId, connection);
    this.metrics.socketsOpen.set(this.connections.size);
    connection.storeEpoch = await this.sessions.epoch();
    if (previous) {
      previous.close(CloseCode.Replaced, 'replaced by a newer socket');
      // Before the new socket resumes without lastEventId: it must start after what the old one was sent.
      await this.recordWritten(previous);
    }
    connection.onClose(this.detached);
    this.watchLifetime(connection);
    const holder = this.holderOf(connection);
    await this.presence.connected(sessionId, holder, this.idleTtlMs);
    connection.refreshedAt = Date.now();
    await this.cluster.publish('SocketClaimed', { sessionId, ...holder }, { settled: true });
  }

  /** Closes every socket (shutdown: 1001, reconnect and resume elsewhere). */
  closeAll(code: number, reason: string): void {
    for (const connection of this.connections.values()) connection.close(code, reason);
  }

  /** Cuts every socket still open (shutdown, once their close handshakes had their time). */
  terminateAll(): void {
    for (const connection of this.connections.values()) connection.terminate();
  }

  private dispatch(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) this.connections.get(delivery.sessionId)?.deliver(delivery);
  }

  private async detach(connection: ClientConnection): Promise<void> {
    const sessionId = connection.session.id;
    if (this.connections.get(sessionId) === connection) this.connections.delete(sessionId);
    this.metrics.socketsOpen.set(this.connections.size);
    clearTimeout(this.lifetimeTimers.get(connection));
    this.lifetimeTimers.delete(connection);
    if (connection.sessionEnded) return;
    try {
      const holder = this.holderOf(connection);
      await this.presence.disconnected(sessionId, holder);
      await this.cluster.publish('SocketReleased', { sessionId, ...holder });
      await this.recordWritten(connection);
      // The idle clock of SESSION_IDLE_TTL_S starts when the last socket goes.
      await this.sessions.released(connection.session);
      await this.buffer.touch(sessionId);
    } catch (error) {
      this.log.warn(`session ${sessionId}: could not record the closed socket: ${(error as Error).message}`);
    }
  }

  /**
   * One timer for every socket: cut the silent and ping the rest, each socket
   * once per HEARTBEAT_INTERVAL_MS, and keep their sessions alive in the store
   * as often as SESSION_IDLE_TTL_S needs (every half of it), not at every ping:
   * with Redis an idle socket then costs a few commands per half hour. A
   * session that vanished while its socket was open has expired (4001),
   * unless the store lost its contents since the socket opened (a Redis
   * restarted empty: a new epoch, which makes every socket refresh at once);
   * then it is restored so that the socket keeps working.
   *
   * A pass over the sockets is spread over the interval, BEAT_SHARE or more
   * sockets a tick: pinging thousands of sockets at once makes every client
   * answer at once, and that burst holds the event loop, and deliveries, for
   * a while every interval (docs/benchmarks.md). A small instance still beats
   * all its sockets in one tick, so that their store work shares its round
   * trips.
   */
  private async beat(): Promise<void> {
    if (!this.pass) {
      if (Date.now() - this.passStartedAt < this.config.ws.heartbeatIntervalMs) return;
      this.pass = this.connections.values();
      this.passStartedAt = Date.now();
    }
    const share = Math.max(BEAT_SHARE, Math.ceil(this.connections.size / (BEAT_TICKS - 1)));
    const turn: ClientConnection[] = [];
    while (turn.length < share) {
      const next = this.pass.next();
      if (next.done) {
        this.pass = undefined;
        break;
      }
      turn.push(next.value);
    }
    if (!turn.length) return;
    // Pings first, before any store work: a store that answers late (or all at once, as a failover ends)
    // must not bunch one pass's ping and the next pass's liveness check together.
    const beating = turn.filter((connection) => this.probe(connection));
    if (!beating.length) return;
    // Per tick, not per pass: a store that restarted empty during a pass must be seen before a socket is expired.
    const passStartedAt = this.passStartedAt;
    const epoch = await this.sessions.epoch().catch(() => undefined);
    await Promise.all(beating.map((connection) => this.refresh(connection, epoch, passStartedAt)));
  }

  /**
   * Whether the session's TTLs are due for a refresh in the pass that started
   * at `passStartedAt`: in the last pass before half the idle TTL has gone by.
   * Sockets opened during one pass are refreshed in the same later pass, so
   * their refreshes share round trips from then on.
   */
  private refreshDue(connection: ClientConnection, passStartedAt: number): boolean {
    return passStartedAt - connection.refreshedAt >= this.idleTtlMs / 2 - this.config.ws.heartbeatIntervalMs;
  }

  /** Ends a socket that did not answer the last ping, pings the others; true for those that stay. */
  private probe(connection: ClientConnection): boolean {
    // Closed since its pass began, or still opening (attach waits for every instance to hear of it).
    if (this.connections.get(connection.session.id) !== connection || !connection.welcomed) return false;
    if (!connection.alive) {
      connection.terminate();
      return false;
    }
    connection.ping();
    this.watchLifetime(connection);
    return true;
  }

  /** The store work of a beat: the session's TTLs when due, and the newest id written. */
  private async refresh(connection: ClientConnection, epoch: string | undefined, passStartedAt: number): Promise<void> {
    try {
      const storeLostData = epoch !== undefined && connection.storeEpoch !== undefined && epoch !== connection.storeEpoch;
      if (storeLostData || this.refreshDue(connection, passStartedAt)) {
        if (!(await this.sessions.keepAlive(connection.session))) {
          if (!storeLostData || !connection.subscription) return this.expire(connection);
          await this.restore(connection);
        }
        connection.storeEpoch = epoch ?? connection.storeEpoch;
        await this.buffer.touch(connection.session.id);
        await this.presence.connected(connection.session.id, this.holderOf(connection), this.idleTtlMs);
        connection.refreshedAt = passStartedAt;
      }
      await this.recordWritten(connection);
    } catch (error) {
      // The store being away is no reason to drop a socket; the next beat retries.
      this.log.warn(`heartbeat could not refresh session ${connection.session.id}: ${(error as Error).message}`);
    }
  }

  /** Sets the socket's lifetime timer once its session has less than a heartbeat to live. */
  private watchLifetime(connection: ClientConnection): void {
    if (this.lifetimeTimers.has(connection)) return;
    const left = lifetimeEnd(connection.session) - Date.now();
    if (left > this.config.ws.heartbeatIntervalMs) return;
    const timer = setTimeout(() => this.endLifetime(connection), Math.max(0, left));
    timer.unref();
    this.lifetimeTimers.set(connection, timer);
  }

  /** The session's lifetime is over: its socket closes with 4001 and the session ends on every instance. */
  private endLifetime(connection: ClientConnection): void {
    this.lifetimeTimers.delete(connection);
    if (this.connections.get(connection.session.id) !== connection) return;
    connection.sessionEnded = true;
    connection.close(CloseCode.SessionExpired, 'session expired');
    this.sessions.expire(connection.session).catch((error: Error) => {
      // The store forgets it at its lifetime anyway (its TTLs end there).
      this.log.warn(`session ${connection.session.id}: could not end the expired session: ${error.message}`);
    });
  }

  /**
   * Asks, for every open socket, whether its session may still use its
   * identity (SessionService.recheck ends the ones that may not, which closes
   * their sockets with 4001 through the bus). One pass at a time.
   */
  private async recheckAll(): Promise<void> {
    if (this.rechecking) return;
    this.rechecking = true;
    try {
      await Promise.all(
        [...this.connections.values()].map(async (connection) => {
          if (!connection.isOpen) return;
          try {
            await this.sessions.recheck(connection.session);
          } catch (error) {
            // The directory or the store being away is no reason to drop a socket; the next pass retries.
            this.log.warn(`session ${connection.session.id}: could not recheck its right to the identity: ${(error as Error).message}`);
          }
        }),
      );
    } finally {
      this.rechecking = false;
    }
  }

  /**
   * 4001, after a grace: a session removed by a logout or a new setup on another
   * instance is announced on the bus, and that close (4000, 4002) must win.
   */
  private expire(connection: ClientConnection): void {
    setTimeout(() => connection.close(CloseCode.SessionExpired, 'session expired'), EXPIRY_GRACE_MS).unref();
  }

  private async restore(connection: ClientConnection): Promise<void> {
    const { session, subscription } = connection;
    if (!subscription || !(await this.sessions.restore(session))) return;
    await this.subscriptions.restore(session, subscription);
    await this.buffer.continueFrom(session.id, connection.lastWrittenId);
    this.log.warn(`session ${session.id} was lost by the store while its socket was open; restored`);
  }

  private async recordWritten(connection: ClientConnection): Promise<void> {
    const id = connection.takeUnrecordedWrittenId();
    if (id !== undefined) await this.buffer.markWritten(connection.session.id, id);
  }
}

/** For a SessionEnded without a reason (sent by an instance of an older version). */
function closeReason(code: number): string {
  if (code === CloseCode.LoggedOut) return 'logged out';
  if (code === CloseCode.Replaced) return 'replaced by a new setup';
  return 'session ended';
}
