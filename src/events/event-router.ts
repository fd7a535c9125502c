import { Injectable, OnModuleInit } from '@nestjs/common';
import { ClusterEvents } from '../cluster/cluster-events';
import { GatewayConfig } from '../config/gateway-config';
import { Metrics } from '../infra/metrics/metrics';
import { Session } from '../session/session';
import { SessionEvents } from '../session/session-events';
import { frameTail } from './envelope';
import { AppendEntry, Delivery, EventBufferStore } from './event-buffer.store';
import { DeliveryBus } from './delivery-bus';
import { PublishedEvent } from './ingress';
import { SubscriptionCache } from '../subscriptions/subscription-cache';
import { RoutingTable } from './routing-table';

export interface RoutedRecipient {
  readonly session: Session;
  readonly delivery: Delivery;
  /** Whether a socket of the session was open, on a live instance, when the event was handed on. */
  readonly connected: boolean;
}

/** The candidate sessions of one batch's targets (identities, groups), each looked up once. */
interface Candidates {
  readonly byIdentity: ReadonlyMap<string, Session[]>;
  readonly byGroup: ReadonlyMap<string, Session[]>;
}

/** keys[i] → values[i]. */
function mapOf<V>(keys: readonly string[], values: readonly V[]): Map<string, V> {
  const map = new Map<string, V>();
  for (let i = 0; i < keys.length; i++) map.set(keys[i], values[i]);
  return map;
}

const candidatesOf = (event: PublishedEvent, candidates: Candidates): Session[] =>
  event.group === undefined ? candidates.byIdentity.get(event.identity)! : candidates.byGroup.get(event.group)!;

/**
 * One buffer entry per recipient session. The envelope differs per recipient identity only, so it is
 * serialized once per identity; an identity event has one recipient identity, so a map (one more
 * allocation per event) is only made for groups.
 */
function addEntries(entries: AppendEntry[], event: PublishedEvent, sessions: readonly Session[]): void {
  let firstIdentity: string | undefined;
  let firstTail = '';
  let otherTails: Map<string, string> | undefined;
  for (const session of sessions) {
    let tail: string | undefined;
    if (firstIdentity === undefined) {
      firstIdentity = session.identity;
      tail = firstTail = frameTail(event, firstIdentity);
    } else if (session.identity === firstIdentity) {
      tail = firstTail;
    } else {
      otherTails ??= new Map();
      tail = otherTails.get(session.identity);
      if (tail === undefined) otherTails.set(session.identity, (tail = frameTail(event, session.identity)));
    }
    entries.push({ sessionId: session.id, tail, sourceId: event.sourceId });
  }
}

/** A batch's append, issued; `recipients` are its sessions event by event, as the entries were made. */
interface IssuedAppend {
  readonly appended: Promise<Array<Delivery | undefined>>;
  readonly recipients: Session[][];
}

/** Sees each routed event of one name with its recipients, after they were handed to the bus. */
export type RouteTap = (event: PublishedEvent, recipients: readonly RoutedRecipient[]) => void;

/**
 * The one place events are routed: matched against the subscriptions of the
 * sessions of their identity (or of the managers of their group), appended to
 * each matching session's buffer with its next id, then handed to the
 * instance that holds the session's socket, if one is open. Who the sessions
 * are, where their sockets are and what they subscribe to come from this
 * instance's caches (RoutingTable, SubscriptionCache): per event, Redis is
 * only written.
 *
 * The cluster events that change those caches are settled: their publisher
 * (a setup, a logout, a socket that opens, a subscription change) waits for
 * every instance to have heard them. This instance answers only once the
 * batches it routed with the old view are handed on, so what the publisher
 * does next (answer the client, replay the buffer to the new socket) comes
 * after them.
 */
@Injectable()
export class EventRouter implements OnModuleInit {
  /** Settles once the latest batch's append was issued (see route). */
  private appendsIssued: Promise<unknown> = Promise.resolve();
  /** Settles once the latest batch's deliveries were handed to the bus. */
  private deliveriesHandedOn: Promise<unknown> = Promise.resolve();
  /** By event name: a tap costs nothing for the events it does not watch. */
  private readonly taps = new Map<string, RouteTap[]>();

  constructor(
    private readonly table: RoutingTable,
    private readonly cluster: ClusterEvents,
    private readonly subscriptionCache: SubscriptionCache,
    private readonly buffer: EventBufferStore,
    private readonly deliveryBus: DeliveryBus,
    private readonly sessionEvents: SessionEvents,
    private readonly metrics: Metrics,
    config: GatewayConfig,
  ) {
    this.bufferSize = config.ws.eventBufferSize;
  }

  private readonly bufferSize: number;

  async onModuleInit(): Promise<void> {
    this.sessionEvents.on('opened', (session) => this.buffer.open(session.id));
    // The subscription cache forgets the session's entry on its own (SessionEnded reaches every instance).
    this.sessionEvents.on('ended', (session) => this.buffer.drop(session.id));
    await this.cluster.listen('SessionOpened', ({ sub, identity }) => {
      this.table.opened(sub, identity);
      return this.routedSoFar();
    });
    await this.cluster.listen('SessionEnded', ({ sessionId, sub, identity }) => {
      this.table.sessionEnded(sessionId, sub, identity);
      return this.routedSoFar();
    });
    await this.cluster.listen('SocketClaimed', ({ sessionId, instanceId, connectionId }) => {
      this.table.claimed(sessionId, { instanceId, connectionId });
      return this.routedSoFar();
    });
    await this.cluster.listen('SocketReleased', ({ sessionId, instanceId, connectionId }) => {
      this.table.released(sessionId, { instanceId, connectionId });
    });
    // The subscription cache evicts on its own; the change holds once what was routed before it is handed on.
    await this.cluster.listen('SubscriptionChanged', () => this.routedSoFar());
  }

  /** Settles once every batch routed so far was handed on (its failure is its caller's). */
  private routedSoFar(): Promise<unknown> {
    return this.deliveriesHandedOn;
  }

  tap(eventName: string, listener: RouteTap): void {
    const listeners = this.taps.get(eventName);
    if (listeners) listeners.push(listener);
    else this.taps.set(eventName, [listener]);
  }

  /**
   * Resolves once every recipient's buffer holds the events and they were
   * handed to the bus. Batches overlap where order allows it: a batch's
   * lookups start at once, its append is issued right after the previous
   * batch's (the buffer numbers appends in the order they are issued, so ids
   * follow the order of acceptance), and its deliveries go to the bus after
   * the previous batch's. With Redis a batch then costs about one round trip
   * of the routing order rather than four.
   */
  route(events: readonly PublishedEvent[], { retried = false }: { retried?: boolean } = {}): Promise<void> {
    const acceptedAt = Date.now();
    const candidates = this.lookUpTargets(events);
    // Awaited in turn, perhaps after it failed: not an unhandled rejection meanwhile.
    candidates.catch(() => undefined);
    const issued = this.appendsIssued.then(() => this.issueAppend(events, candidates, { acceptedAt, retried }));
    this.appendsIssued = issued.catch(() => undefined);
    const routed = this.deliveriesHandedOn.then(() => issued).then((append) => this.handOn(events, append));
    this.deliveriesHandedOn = routed.catch(() => undefined);
    return routed;
  }

  /** Matches the batch against the subscriptions and issues its append, without waiting for it. */
  private async issueAppend(
    events: readonly PublishedEvent[],
    lookedUp: Promise<Candidates>,
    options: { acceptedAt: number; retried: boolean },
  ): Promise<IssuedAppend | undefined> {
    const { acceptedAt } = options;
    const candidates = await lookedUp;
    const entries: AppendEntry[] = [];
    const recipients: Session[][] = [];
    for (const event of events) {
      const sessions: Session[] = [];
      for (const session of candidatesOf(event, candidates)) {
        const { sub, identity, mode } = session;
        // Nearly always cached: a promise per event and recipient would cost more than the check itself.
        const allowed =
          this.subscriptionCache.allowsCached(sub, identity, mode, event.event, acceptedAt) ??
          (await this.subscriptionCache.allows(sub, identity, mode, event.event));
        if (allowed) sessions.push(session);
      }
      addEntries(entries, event, sessions);
      recipients.push(sessions);
    }
    if (!entries.length) return undefined;
    const appended = this.buffer.append(entries, options);
    appended.catch(() => undefined);
    return { appended, recipients };
  }

  private async handOn(events: readonly PublishedEvent[], append: IssuedAppend | undefined): Promise<void> {
    if (!append) return;
    // Aligned with the entries; undefined where a session had already taken the stream entry.
    const appended = await append.appended;
    // By holding instance, in the order of the appends; sessions without an open socket keep theirs buffered.
    const byHolder = new Map<string, Delivery[]>();
    let buffered = 0;
    let dropped = 0;
    for (const delivery of appended) {
      if (delivery === undefined) continue;
      buffered++;
      // A ring of EVENT_BUFFER_SIZE drops its oldest event with every append past its size.
      if (delivery.id > this.bufferSize) dropped++;
      const holder = this.table.holderOf(delivery.sessionId);
      if (holder === undefined) continue;
      const deliveries = byHolder.get(holder);
      if (deliveries) deliveries.push(delivery);
      else byHolder.set(holder, [delivery]);
    }
    await Promise.all([...byHolder].map(([holder, deliveries]) => this.deliveryBus.deliver(holder, deliveries)));
    this.metrics.eventsBuffered.inc(buffered);
    if (dropped) this.metrics.eventsDroppedFromBuffers.inc(dropped);
    if (this.taps.size) this.notifyTaps(events, append.recipients, appended);
  }

  /** Entries were made event by event, recipient by recipient; `appended` follows them. */
  private notifyTaps(
    events: readonly PublishedEvent[],
    recipients: Session[][],
    appended: ReadonlyArray<Delivery | undefined>,
  ): void {
    let next = 0;
    events.forEach((event, index) => {
      const sessions = recipients[index];
      const first = next;
      next += sessions.length;
      const listeners = this.taps.get(event.event);
      if (!listeners) return;
      const routed: RoutedRecipient[] = [];
      sessions.forEach((session, i) => {
        const delivery = appended[first + i];
        if (delivery) routed.push({ session, delivery, connected: this.table.holderOf(session.id) !== undefined });
      });
      if (routed.length) for (const tap of listeners) tap(event, routed);
    });
  }

  /** The candidates of every target of the batch, each looked up once; nearly always from the routing table's memory. */
  private async lookUpTargets(events: readonly PublishedEvent[]): Promise<Candidates> {
    const identities = new Set<string>();
    const groups = new Set<string>();
    for (const event of events) {
      if (event.group === undefined) identities.add(event.identity);
      else groups.add(event.group);
    }
    const identityList = [...identities];
    const groupList = [...groups];
    const [sessionsOfIdentities, sessionsOfGroups] = await Promise.all([
      identityList.length ? this.table.sessionsOf(identityList) : [],
      Promise.all(groupList.map((group) => this.table.managerSessionsOf(group))),
    ]);
    return { byIdentity: mapOf(identityList, sessionsOfIdentities), byGroup: mapOf(groupList, sessionsOfGroups) };
  }
}
