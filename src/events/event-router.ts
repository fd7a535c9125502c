import { Injectable, OnModuleInit } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { Directory } from '../identity/directory';
import { Metrics } from '../metrics/metrics';
import { Session } from '../session/session';
import { SessionEvents } from '../session/session-events';
import { SessionStore } from '../session/session.store';
import { frameTail } from './envelope';
import { AppendEntry, Delivery, EventBuffer } from './event-buffer';
import { EventBus } from './event-bus';
import { PublishedEvent, toRouted } from './ingress';
import { SubscriptionCache } from './subscription-cache';

export interface RoutedRecipient {
  readonly session: Session;
  readonly delivery: Delivery;
}

/** The candidate sessions of one batch's targets (identities, groups), each looked up once. */
interface Candidates {
  readonly byIdentity: Map<string, Promise<Session[]>>;
  readonly byGroup: Map<string, Promise<Session[]>>;
}

/** A promise awaited later, in order: its failure must not count as unhandled meanwhile (it still fails the batch). */
function awaitedLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Sees every routed event with its recipients, after they were handed to the bus. */
export type RouteTap = (event: PublishedEvent, recipients: readonly RoutedRecipient[]) => void;

/**
 * The one place events are routed: matched against the subscriptions of the
 * sessions of their identity (or of the managers of their group), appended to
 * each matching session's buffer with its next id, then handed to whichever
 * socket holds the session.
 */
@Injectable()
export class EventRouter implements OnModuleInit {
  /** Batches are routed one after another so that ids follow the order of acceptance. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly taps: RouteTap[] = [];

  constructor(
    private readonly sessions: SessionStore,
    private readonly directory: Directory,
    private readonly subscriptions: SubscriptionCache,
    private readonly buffer: EventBuffer,
    private readonly bus: EventBus,
    private readonly sessionEvents: SessionEvents,
    private readonly metrics: Metrics,
    config: GatewayConfig,
  ) {
    this.bufferSize = config.ws.eventBufferSize;
  }

  private readonly bufferSize: number;

  onModuleInit(): void {
    this.sessionEvents.onEnded(async (session) => {
      this.subscriptions.forget(session.sub, session.identity);
      await this.buffer.drop(session.id);
    });
  }

  tap(listener: RouteTap): void {
    this.taps.push(listener);
  }

  /** Resolves once every recipient's buffer holds the events. */
  route(events: readonly PublishedEvent[]): Promise<void> {
    const routed = this.chain.then(() => this.routeNow(events));
    this.chain = routed.catch(() => undefined);
    return routed;
  }

  private async routeNow(events: readonly PublishedEvent[]): Promise<void> {
    const acceptedAt = Date.now();
    const candidates = this.lookUpTargets(events);
    const entries: AppendEntry[] = [];
    const recipients: Session[][] = [];
    for (const event of events) {
      const sessions = await this.recipients(event, candidates);
      // The envelope differs per recipient identity only; serialize it once per identity. An identity
      // event has one recipient identity, so a map (one more allocation per event) is only made for groups.
      let firstIdentity: string | undefined;
      let firstTail = '';
      let otherTails: Map<string, string> | undefined;
      for (const session of sessions) {
        let tail: string | undefined;
        if (firstIdentity === undefined) {
          firstIdentity = session.identity;
          tail = firstTail = frameTail(toRouted(event, firstIdentity));
        } else if (session.identity === firstIdentity) {
          tail = firstTail;
        } else {
          otherTails ??= new Map();
          tail = otherTails.get(session.identity);
          if (tail === undefined) otherTails.set(session.identity, (tail = frameTail(toRouted(event, session.identity))));
        }
        entries.push({ sessionId: session.id, tail, sourceId: event.sourceId });
      }
      recipients.push(sessions);
    }
    if (!entries.length) return;
    // Aligned with `entries`; undefined where a session had already taken the stream entry.
    const appended = (await this.buffer.append(entries)).map((delivery): Delivery | undefined =>
      delivery && { ...delivery, acceptedAt },
    );
    const deliveries = appended.filter((delivery): delivery is Delivery => delivery !== undefined);
    await this.bus.deliver(deliveries);
    this.metrics.eventsBuffered.inc(deliveries.length);
    // A ring of EVENT_BUFFER_SIZE drops its oldest event with every append past its size.
    const dropped = deliveries.filter((delivery) => delivery.id > this.bufferSize).length;
    if (dropped) this.metrics.eventsDroppedFromBuffers.inc(dropped);
    if (this.taps.length) this.notifyTaps(events, recipients, appended);
  }

  /** Entries were made event by event, recipient by recipient; `appended` follows them. */
  private notifyTaps(
    events: readonly PublishedEvent[],
    recipients: Session[][],
    appended: ReadonlyArray<Delivery | undefined>,
  ): void {
    let next = 0;
    events.forEach((event, index) => {
      const routed: RoutedRecipient[] = [];
      for (const session of recipients[index]) {
        const delivery = appended[next++];
        if (delivery) routed.push({ session, delivery });
      }
      if (routed.length) for (const tap of this.taps) tap(event, routed);
    });
  }

  /**
   * Starts the candidate lookup of every target of the batch, each once, before
   * any is awaited: with Redis the batch then costs a round trip or two rather
   * than two per event (issue 7, redis-delivery). They are awaited in event order.
   */
  private lookUpTargets(events: readonly PublishedEvent[]): Candidates {
    const candidates: Candidates = { byIdentity: new Map(), byGroup: new Map() };
    for (const { identity, group } of events) {
      if (group === undefined) {
        if (!candidates.byIdentity.has(identity!)) candidates.byIdentity.set(identity!, awaitedLater(this.sessions.listByIdentity(identity!)));
      } else if (!candidates.byGroup.has(group)) {
        candidates.byGroup.set(group, awaitedLater(this.managerSessions(group)));
      }
    }
    return candidates;
  }

  private async recipients(event: PublishedEvent, candidates: Candidates): Promise<Session[]> {
    const lookup = event.group === undefined ? candidates.byIdentity.get(event.identity!)! : candidates.byGroup.get(event.group)!;
    const recipients: Session[] = [];
    for (const session of await lookup) {
      if (await this.subscriptions.allows(session.sub, session.identity, session.mode, event.event)) recipients.push(session);
    }
    return recipients;
  }

  /** Group events reach the sessions that managers of the group opened in manager mode, and nobody else. */
  private async managerSessions(group: string): Promise<Session[]> {
    const managers = await this.directory.managersOf(group);
    const sessions = await Promise.all(managers.map((manager) => this.sessions.listByUser(manager.sub)));
    return sessions.flat().filter((session) => session.mode === 'manager');
  }
}
