import { IncomingMessage } from 'node:http';
import { HttpStatus, Injectable } from '@nestjs/common';
import { parseBearerHeader } from '../auth/bearer';
import { ClientAddresses } from '../http/client-address';
import { MALFORMED_QUERY, malformedQuery } from '../common/well-formed';
import { GatewayConfig } from '../config/gateway-config';
import { DrainState } from '../lifecycle/drain-state';
import { FailedHandshakes } from '../limits/failed-handshakes';
import { Session } from '../session/session';
import { SessionService } from '../session/session.service';
import { SocketCaps } from './socket-caps';

export interface AcceptedHandshake {
  readonly session: Session;
  readonly lastEventId?: number;
}

export type HandshakeResult =
  | ({ readonly accepted: true } & AcceptedHandshake)
  | {
      readonly accepted: false;
      readonly status: number;
      readonly message: string;
      /** Protocol headers of the refusal, such as Retry-After. */
      readonly headers?: Readonly<Record<string, string>>;
    };

const refuse = (status: number, message: string, headers?: Record<string, string>): HandshakeResult => ({
  accepted: false,
  status,
  message,
  headers,
});

/**
 * Authenticates `GET /ws` before the upgrade, so that no socket is allocated
 * for a refused token. The webSocketToken comes from `Authorization: Bearer`
 * or `?token=`; it is never logged. A client address (client-address.ts)
 * whose handshakes keep failing for want of a valid token is refused before
 * its token is looked at (MAX_FAILED_HANDSHAKES_PER_IP).
 */
@Injectable()
export class HandshakeService {
  private readonly accepted = new WeakMap<IncomingMessage, AcceptedHandshake>();
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly caps: SocketCaps;
  private readonly addresses: ClientAddresses;
  private readonly failures: FailedHandshakes;
  private readonly maxFailures: number;
  /**
   * Retry-After of a cap refusal. Sockets free up when clients close them,
   * which no clock predicts; a heartbeat is the pace at which dead ones are cut.
   */
  private readonly capRetryAfterS: string;
  constructor(
    config: GatewayConfig,
    private readonly sessions: SessionService,
    private readonly drainState: DrainState,
  ) {
    this.allowedOrigins = new Set(config.ws.allowedOrigins);
    this.caps = new SocketCaps(config.limits);
    this.addresses = new ClientAddresses(config.http.trustProxy);
    this.maxFailures = config.limits.maxFailedHandshakesPerIp;
    this.failures = new FailedHandshakes(this.maxFailures);
    this.capRetryAfterS = String(Math.max(1, Math.ceil(config.ws.heartbeatIntervalMs / 1000)));
  }

  /** Once shutdown begins, no new socket is accepted. */
  get draining(): boolean {
    return this.drainState.isDraining;
  }

  drain(): void {
    this.drainState.begin();
  }

  async verify(request: IncomingMessage): Promise<HandshakeResult> {
    if (this.drainState.isDraining) return refuse(HttpStatus.SERVICE_UNAVAILABLE, 'the gateway is shutting down; reconnect to resume');
    const origin = request.headers.origin;
    // Native apps send no Origin; browsers must come from an allowed one when a list is set.
    if (origin && this.allowedOrigins.size && !this.allowedOrigins.has(origin)) {
      return refuse(HttpStatus.FORBIDDEN, `origin ${origin} may not open a socket`);
    }
    const address = this.addresses.of(request);
    const waitMs = this.failures.retryAfterMs(address);
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      return refuse(
        HttpStatus.TOO_MANY_REQUESTS,
        `this client address made ${this.maxFailures} handshakes without a valid webSocketToken within a minute; retry in ${retryAfterS} s`,
        { 'Retry-After': String(retryAfterS) },
      );
    }
    if (malformedQuery(request.url)) return refuse(HttpStatus.BAD_REQUEST, MALFORMED_QUERY);
    const query = new URL(request.url ?? '/', 'http://gateway').searchParams;
    const header = request.headers.authorization;
    // Only a well-formed Bearer header carries the token; any Authorization header counts as a place it was sent.
    const bearer = parseBearerHeader(header);
    const fromHeader = bearer.kind === 'token' ? bearer.token : undefined;
    const fromQuery = query.get('token');
    if (header !== undefined && fromQuery !== null) {
      return refuse(HttpStatus.BAD_REQUEST, 'send the webSocketToken in one place only, not in the header and the query');
    }
    const token = fromHeader ?? fromQuery;
    if (!token) return this.refuseUnauthenticated(address, 'a webSocketToken from /identity/setup is required');

    const rawLastEventId = query.get('lastEventId');
    if (rawLastEventId !== null && !/^[0-9]{1,15}$/.test(rawLastEventId)) {
      return refuse(HttpStatus.BAD_REQUEST, 'lastEventId must be the decimal id of an event received earlier');
    }
    const session = await this.sessions.authenticate(token);
    if (!session) return this.refuseUnauthenticated(address, 'the webSocketToken is unknown, revoked or expired');

    const refusal = this.caps.admit(request.socket, session.id, session.sub, address);
    if (refusal) {
      const whose = refusal.cap === 'user' ? 'this account' : 'this client address';
      return refuse(
        HttpStatus.TOO_MANY_REQUESTS,
        `${whose} already holds ${refusal.limit} sockets on this gateway; close one before opening another`,
        { 'Retry-After': this.capRetryAfterS },
      );
    }
    const handshake = { session, lastEventId: rawLastEventId === null ? undefined : Number(rawLastEventId) };
    this.accepted.set(request, handshake);
    return { accepted: true, ...handshake };
  }

  private refuseUnauthenticated(address: string, message: string): HandshakeResult {
    this.failures.record(address);
    return refuse(HttpStatus.UNAUTHORIZED, message);
  }

  /** The accepted handshake of an upgraded request, once. */
  take(request: IncomingMessage): AcceptedHandshake | undefined {
    const handshake = this.accepted.get(request);
    this.accepted.delete(request);
    return handshake;
  }
}
