import { Injectable, OnModuleInit } from '@nestjs/common';
import { ClientCaller } from '../auth/caller';
import { ClientMode } from '../auth/modes';
import { ClusterEvents } from '../cluster/cluster-events';
import { Session } from '../session/session';
import { SessionEvents } from '../session/session-events';
import { VoraError } from '../common/vora-error';
import { GatewayConfig } from '../config/gateway-config';
import { IdentityService } from '../identity/identity.service';
import { SessionStore } from '../session/session.store';
import { StoredSubscription, SUBSCRIBE_ALL, SubscriptionStore } from './subscription.store';
import { EventCatalogue } from '../catalogue/catalogue';
import { EffectiveSubscription, EventsIn } from './subscription.dto';

@Injectable()
export class SubscriptionService implements OnModuleInit {
  constructor(
    private readonly config: GatewayConfig,
    private readonly catalogue: EventCatalogue,
    private readonly store: SubscriptionStore,
    private readonly sessions: SessionStore,
    private readonly identities: IdentityService,
    private readonly cluster: ClusterEvents,
    private readonly sessionEvents: SessionEvents,
  ) {}

  /** A (sub, identity) keeps one subscription for all its sessions: it follows their lives. */
  onModuleInit(): void {
    const ttlS = this.config.session.idleTtlS;
    this.sessionEvents.on('opened', ({ sub, identity }) => this.store.putIfAbsent(sub, identity, SUBSCRIBE_ALL, ttlS));
    this.sessionEvents.on('kept', ({ sub, identity }) => this.store.touch(sub, identity, ttlS));
    this.sessionEvents.on('subscriptionReleased', ({ sub, identity }) => this.store.delete(sub, identity));
  }

  async change(caller: ClientCaller, identity: string, input: EventsIn): Promise<EffectiveSubscription> {
    await this.identities.assertOwns(caller, identity);
    const live = (await this.sessions.listByUser(caller.sub)).some((s) => s.identity === identity);
    if (!live) throw VoraError.notFound(`there is no live session for identity ${identity}; call /identity/setup first`);

    const subscription = this.validate(caller.mode, input);
    await this.store.put(caller.sub, identity, subscription, this.config.session.idleTtlS);
    // Answered once no instance routes by the old subscription.
    await this.cluster.publish('SubscriptionChanged', { sub: caller.sub, identity }, { settled: true });
    return this.effective(caller.mode, subscription);
  }

  /** The subscription a session of this mode receives under. */
  async current(sub: string, identity: string, mode: ClientMode): Promise<EffectiveSubscription> {
    return this.effective(mode, (await this.store.get(sub, identity)) ?? SUBSCRIBE_ALL);
  }

  /** Puts back the subscription a socket last saw, for a session the store lost (see SessionService.restore). */
  async restore(session: Session, seen: EffectiveSubscription): Promise<void> {
    const stored: StoredSubscription = seen.subscribeAll ? SUBSCRIBE_ALL : { subscribeAll: false, events: seen.events };
    await this.store.putIfAbsent(session.sub, session.identity, stored, this.config.session.idleTtlS);
  }

  effective(mode: ClientMode, subscription: StoredSubscription): EffectiveSubscription {
    const allowed = this.catalogue.allowedFor(mode);
    return subscription.subscribeAll
      ? { subscribeAll: true, events: [...allowed] }
      : { subscribeAll: false, events: subscription.events.filter((e) => allowed.includes(e)) };
  }

  private validate(mode: ClientMode, input: EventsIn): StoredSubscription {
    const events = input.events ?? [];
    if (input.subscribeAll) {
      if (events.length) throw VoraError.badRequest('events must be absent or empty when subscribeAll is true');
      return SUBSCRIBE_ALL;
    }
    if (!events.length) throw VoraError.badRequest('events must list at least one event when subscribeAll is false');
    const duplicates = [...new Set(events.filter((e, i) => events.indexOf(e) !== i))];
    if (duplicates.length) throw VoraError.badRequest(`events are listed more than once: ${duplicates.join(', ')}`);
    const unknown = events.filter((e) => !this.catalogue.get(e));
    if (unknown.length) throw VoraError.badRequest(`unknown events: ${unknown.join(', ')}`);
    const allowed = this.catalogue.allowedFor(mode);
    const forbidden = events.filter((e) => !allowed.includes(e));
    if (forbidden.length) throw VoraError.forbidden(`mode ${mode} may not subscribe to: ${forbidden.join(', ')}`);
    return { subscribeAll: false, events };
  }
}
