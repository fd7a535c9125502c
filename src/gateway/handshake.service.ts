import { IncomingMessage } from 'node:http';
import { HttpStatus, Injectable } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
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
 * or `?token=`; it is never logged.
 */
@Injectable()
export class HandshakeService {
  private readonly accepted = new WeakMap<IncomingMessage, AcceptedHandshake>();
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly caps: SocketCaps;
  /**
   * Retry-After of a cap refusal. Sockets free up when clients close them,
   * which no clock predicts; a heartbeat is the pace at which dead ones are cut.
   */
  private readonly capRetryAfterS: string;
  /** Set when shutdown begins: no new socket is accepted. */
  private isDraining = false;

  constructor(
    config: GatewayConfig,
    private readonly sessions: SessionService,
  ) {
    this.allowedOrigins = new Set(config.ws.allowedOrigins);
    this.caps = new SocketCaps(config.limits);
    this.capRetryAfterS = String(Math.max(1, Math.ceil(config.ws.heartbeatIntervalMs / 1000)));
  }

  get draining(): boolean {
    return this.isDraining;
  }

  drain(): void {
    this.isDraining = true;
  }

  async verify(request: IncomingMessage): Promise<HandshakeResult> {
    if (this.isDraining) return refuse(HttpStatus.SERVICE_UNAVAILABLE, 'the gateway is shutting down; reconnect to resume');
    const origin = request.headers.origin;
    // Native apps send no Origin; browsers must come from an allowed one when a list is set.
    if (origin && this.allowedOrigins.size && !this.allowedOrigins.has(origin)) {
      return refuse(HttpStatus.FORBIDDEN, `origin ${origin} may not open a socket`);
    }
    const query = new URL(request.url ?? '/', 'http://gateway').searchParams;
    const header = request.headers.authorization;
    const fromHeader = header?.match(/^Bearer[ ]+([^ ]+)[ ]*$/i)?.[1];
    const fromQuery = query.get('token');
    if (header !== undefined && fromQuery !== null) {
      return refuse(HttpStatus.BAD_REQUEST, 'send the webSocketToken in one place only, not in the header and the query');
    }
    const token = fromHeader ?? fromQuery;
    if (!token) return refuse(HttpStatus.UNAUTHORIZED, 'a webSocketToken from /identity/setup is required');

    const rawLastEventId = query.get('lastEventId');
    if (rawLastEventId !== null && !/^[0-9]{1,15}$/.test(rawLastEventId)) {
      return refuse(HttpStatus.BAD_REQUEST, 'lastEventId must be the decimal id of an event received earlier');
    }
    const session = await this.sessions.authenticate(token);
    if (!session) return refuse(HttpStatus.UNAUTHORIZED, 'the webSocketToken is unknown, revoked or expired');

    const refusal = this.caps.admit(request.socket, session.id, session.sub, clientAddress(request));
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

  /** The accepted handshake of an upgraded request, once. */
  take(request: IncomingMessage): AcceptedHandshake | undefined {
    const handshake = this.accepted.get(request);
    this.accepted.delete(request);
    return handshake;
  }
}

/** The peer's address; an IPv4 client reaching a dual-stack listener counts as its IPv4 address. */
function clientAddress(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
