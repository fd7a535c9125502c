import { ClientMode } from '../auth/modes';

export const CONNECTION_TYPES = ['WEB', 'DESKTOP', 'MOBILE'] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

/**
 * A client session opened by `POST /identity/setup`, keyed by (sub, identity,
 * connectionType). Its webSocketToken is stored only as a hash.
 */
export interface Session {
  readonly id: string;
  readonly sub: string;
  readonly mode: ClientMode;
  readonly identity: string;
  readonly connectionType: ConnectionType;
  readonly holdUpMode: boolean;
  readonly tokenHash: string;
  readonly createdAt: string;
  /** SESSION_MAX_LIFETIME_S after setup: the session ends then, whatever its sockets do (ISO-8601). */
  readonly expiresAt: string;
}

/** Records stored before sessions had a lifetime get the default one (SESSION_MAX_LIFETIME_S). */
const DEFAULT_LIFETIME_MS = 86_400_000;

/** When the session's lifetime ends, epoch ms. */
export function lifetimeEnd(session: Session): number {
  const end = Date.parse(session.expiresAt);
  return Number.isFinite(end) ? end : Date.parse(session.createdAt) + DEFAULT_LIFETIME_MS;
}

export const sameKey = (a: Session, b: Session): boolean =>
  a.sub === b.sub && a.identity === b.identity && a.connectionType === b.connectionType;

/** Close codes of SPEC section 4 that end a session's socket (4001: expired, or its right to the identity lost). */
export const SessionCloseCode = {
  LoggedOut: 4000,
  Expired: 4001,
  Replaced: 4002,
} as const;
export type SessionCloseCode = (typeof SessionCloseCode)[keyof typeof SessionCloseCode];
