import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ClientCaller } from '../auth/caller';
import { ClusterEvents, SessionEnded } from '../cluster/cluster-events';
import { VoraError } from '../common/vora-error';
import { GatewayConfig } from '../config/gateway-config';
import { IdentityService } from '../identity/identity.service';
import { Metrics } from '../infra/metrics/metrics';
import { lifetimeEnd, Session, SessionCloseCode } from './session';
import { SessionEvents } from './session-events';
import { SetupIn } from './session.dto';
import { SessionStore } from './session.store';

/** The webSocketToken is stored and looked up only by this hash. */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** Why a session ended early, with the close code and reason its socket gets (SPEC section 4). */
const ENDINGS = {
  logout: { code: SessionCloseCode.LoggedOut, reason: 'logged out' },
  replaced: { code: SessionCloseCode.Replaced, reason: 'replaced by a new setup' },
  revoked: { code: SessionCloseCode.Expired, reason: 'session revoked: the identity is no longer allowed for this account' },
  expired: { code: SessionCloseCode.Expired, reason: 'session expired' },
} as const;
type Ending = keyof typeof ENDINGS;

@Injectable()
export class SessionService {
  private readonly ttlS: number;
  private readonly maxPerUser: number;
  private readonly lifetimeMs: number;

  constructor(
    config: GatewayConfig,
    private readonly store: SessionStore,
    private readonly identities: IdentityService,
    private readonly cluster: ClusterEvents,
    private readonly events: SessionEvents,
    private readonly metrics: Metrics,
  ) {
    this.ttlS = config.session.idleTtlS;
    this.maxPerUser = config.session.maxSessionsPerUser;
    this.lifetimeMs = config.session.maxLifetimeS * 1000;
  }

  /** Opens a session and returns its webSocketToken, the only time it is seen in clear. */
  async setup(caller: ClientCaller, input: SetupIn): Promise<string> {
    await this.identities.assertOwns(caller, input.identity);
    const holdUpMode = input.holdUpMode ?? false;
    if (holdUpMode && input.connectionType !== 'MOBILE') {
      throw VoraError.badRequest('holdUpMode is allowed only with connectionType MOBILE');
    }
    // 256 random bits, independent of the OAuth server.
    const webSocketToken = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      id: randomUUID(),
      sub: caller.sub,
      mode: caller.mode,
      identity: input.identity,
      connectionType: input.connectionType,
      holdUpMode,
      tokenHash: hashToken(webSocketToken),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.lifetimeMs).toISOString(),
    };
    const result = await this.store.open(session, { ttlS: this.ttlS, maxPerUser: this.maxPerUser });
    if (!result.opened) {
      throw VoraError.conflict(
        `this account already has ${result.live} live sessions, the most allowed; log out of one before opening another`,
      );
    }
    this.metrics.sessionsOpened.inc();
    if (result.replaced) await this.end(result.replaced, 'replaced');
    await this.events.emit('opened', session);
    // Every instance routes the identity's events to the new session once this answers.
    await this.cluster.publish('SessionOpened', { sessionId: session.id, sub: session.sub, identity: session.identity }, { settled: true });
    return webSocketToken;
  }

  /** Ends every session of the caller on that identity and forgets its subscription. */
  async logout(caller: ClientCaller, identity: string): Promise<void> {
    await this.identities.assertOwns(caller, identity);
    const sessions = (await this.store.listByUser(caller.sub)).filter((s) => s.identity === identity);
    if (!sessions.length) throw VoraError.notFound(`there is no live session for identity ${identity}`);
    await this.events.emit('subscriptionReleased', { sub: caller.sub, identity });
    await Promise.all(sessions.map((session) => this.end(session, 'logout')));
  }

  /**
   * The live session a webSocketToken opens, if any. A session whose identity
   * the directory no longer gives its owner (in its mode) is ended here.
   */
  async authenticate(webSocketToken: string): Promise<Session | undefined> {
    const session = await this.store.findByTokenHash(hashToken(webSocketToken));
    if (!session || lifetimeEnd(session) <= Date.now()) return undefined;
    return (await this.recheck(session)) ? session : undefined;
  }

  /**
   * True while the session's owner may still use its identity in its mode;
   * otherwise the session is ended (its socket closed with 4001, its token
   * revoked, its buffer dropped) and false is answered.
   */
  async recheck(session: Session): Promise<boolean> {
    const { sub, identity } = session;
    if (await this.identities.mayStillUse(sub, session.mode, identity)) return true;
    // The subscription belongs to (owner, identity): it goes unless another session may still use it
    // (in another mode), and before the socket is told, as with a logout.
    const others = (await this.store.listByUser(sub)).filter((other) => other.identity === identity && other.id !== session.id);
    const kept = await Promise.all(others.map((other) => this.identities.mayStillUse(sub, other.mode, identity)));
    if (!kept.includes(true)) await this.events.emit('subscriptionReleased', { sub, identity });
    await this.end(session, 'revoked');
    return false;
  }

  /** Ends a session whose lifetime (SESSION_MAX_LIFETIME_S) is over while its socket was open. */
  async expire(session: Session): Promise<void> {
    await this.end(session, 'expired');
  }

  /** Keeps a session and its subscription alive while a socket holds it; false when it has ended. */
  async keepAlive(session: Session): Promise<boolean> {
    const alive = await this.store.touch(session, this.ttlS);
    if (alive) await this.events.emit('kept', session);
    return alive;
  }

  /**
   * Puts back a session that the store lost while a socket held it; true
   * when it had to be restored (its subscription is the caller's to restore).
   */
  async restore(session: Session): Promise<boolean> {
    const restored = await this.store.restore(session, this.ttlS);
    // Routing caches may have read the empty store meanwhile: they reload the identity.
    if (restored) await this.cluster.publish('SessionOpened', { sessionId: session.id, sub: session.sub, identity: session.identity });
    return restored;
  }

  /** See SessionStore.epoch(). */
  epoch(): Promise<string> {
    return this.store.epoch();
  }

  /** Removes a session whose socket was told it ended; idempotent, for when a restore raced the end. */
  async forget(sessionId: string): Promise<void> {
    await this.store.remove(sessionId);
  }

  /** Restarts the idle clock when the last socket of a session goes away. */
  async released(session: Session): Promise<void> {
    await this.keepAlive(session);
  }

  /**
   * Tells every instance first, so that the socket closes with this code (not
   * with 4001 from a heartbeat that finds the session gone) and no instance
   * routes to it any more, then removes it.
   */
  private async end(session: Session, ending: Ending): Promise<void> {
    this.metrics.sessionsEnded.inc({ reason: ending });
    const { code, reason } = ENDINGS[ending];
    const ended: SessionEnded = { sessionId: session.id, code, reason, sub: session.sub, identity: session.identity };
    await this.cluster.publish('SessionEnded', ended, { settled: true });
    await this.store.remove(session.id);
    await this.events.emit('ended', session);
  }
}
