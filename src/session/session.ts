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
}

export const sameKey = (a: Session, b: Session): boolean =>
  a.sub === b.sub && a.identity === b.identity && a.connectionType === b.connectionType;

/** Close codes of SPEC section 4 that end a session's socket. */
export const SessionCloseCode = {
  LoggedOut: 4000,
  Expired: 4001,
  Replaced: 4002,
} as const;
export type SessionCloseCode = (typeof SessionCloseCode)[keyof typeof SessionCloseCode];
