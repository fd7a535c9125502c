import { CloseCode } from './protocol';

/**
 * What a client should do when its socket closes:
 * - `stop`: the session is over for this client; do not reconnect;
 * - `new-session`: the session ended; set up a new one if an access token is at hand (ids restart), else stop;
 * - `resume`: reconnect with backoff and `?lastEventId=` of the newest event handled;
 * - `fix-client`: the client broke the protocol; report it, then reconnect with backoff and resume.
 */
export type CloseAction = 'stop' | 'new-session' | 'resume' | 'fix-client';

export interface CloseRule {
  readonly code: number;
  readonly meaning: string;
  readonly action: CloseAction;
  /** False for codes a client sees without the gateway sending them (1006: the connection dropped). */
  readonly sentByGateway: boolean;
}

const rule = (code: number, action: CloseAction, meaning: string, sentByGateway = true): CloseRule => ({
  code,
  meaning,
  action,
  sentByGateway,
});

/**
 * Every close code a client can see, with what it should do (SPEC section 11).
 * Keyed like CloseCode, so that a code added there needs its rule here.
 */
export const CLOSE_RULES: { readonly [Name in keyof typeof CloseCode]: CloseRule } & { readonly AbnormalClosure: CloseRule } = {
  LoggedOut: rule(CloseCode.LoggedOut, 'stop', 'Logged out (POST /logout/{identity}): the session and its buffered events are gone.'),
  SessionExpired: rule(
    CloseCode.SessionExpired,
    'new-session',
    'The session expired, or its identity or mode is no longer the caller\'s; its webSocketToken is revoked.',
  ),
  Replaced: rule(CloseCode.Replaced, 'stop', 'Replaced by a newer socket of the same session, or by a new setup with the same key.'),
  TooSlow: rule(CloseCode.TooSlow, 'resume', 'Too slow: the socket\'s unsent data passed WS_MAX_BUFFERED_BYTES; its events stay buffered.'),
  GoingAway: rule(CloseCode.GoingAway, 'resume', 'The gateway instance is shutting down; another one serves the session.'),
  AbnormalClosure: rule(1006, 'resume', 'The connection dropped without a close frame (network, proxy, a crashed instance).', false),
  InternalError: rule(CloseCode.InternalError, 'resume', 'The gateway could not open or replay the session.'),
  UnsupportedData: rule(CloseCode.UnsupportedData, 'fix-client', 'The client sent a binary frame; the protocol is JSON text.'),
  PolicyViolation: rule(
    CloseCode.PolicyViolation,
    'fix-client',
    'The client sent more than 10 invalid messages a minute, or sent faster than the per-socket message rate.',
  ),
  MessageTooBig: rule(CloseCode.MessageTooBig, 'fix-client', 'The client sent a frame over WS_MAX_PAYLOAD_BYTES.'),
};

/** The rules in the order a reader wants them: the session's own codes first. */
export const CLOSE_RULE_LIST: readonly CloseRule[] = Object.values(CLOSE_RULES).sort(
  (a, b) => (b.code >= 4000 ? 1 : 0) - (a.code >= 4000 ? 1 : 0) || a.code - b.code,
);
