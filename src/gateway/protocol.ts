import { Infer, JsonSchema, satisfiesScalar } from '../common/json-schema';
import { SessionCloseCode } from '../session/session';
import { CLIENT_MESSAGES, SERVER_MESSAGES } from './message-schemas';

type Schemas = typeof SERVER_MESSAGES;

/** What the server sends, typed from its schemas. Events are pre-serialized frames (see events/envelope.ts). */
export type ServerMessage = Infer<Schemas['welcome']> | Infer<Schemas['pong']> | Infer<Schemas['error']>;

/** What a client may send (SPEC sections 4 and 7), typed from its schemas. */
export type ClientMessage = { [Type in keyof typeof CLIENT_MESSAGES]: Infer<(typeof CLIENT_MESSAGES)[Type]> }[keyof typeof CLIENT_MESSAGES];

/**
 * Close codes of SPEC section 4 and RFC 6455. The codes that end a session
 * are the session's own (a session ends on whichever instance holds its socket).
 */
export const CloseCode = {
  GoingAway: 1001,
  UnsupportedData: 1003,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  LoggedOut: SessionCloseCode.LoggedOut,
  SessionExpired: SessionCloseCode.Expired,
  Replaced: SessionCloseCode.Replaced,
  TooSlow: 4008,
} as const;

/**
 * The codes a close is counted under: the gateway's, those `ws` closes with
 * on a broken frame (1002 protocol error, 1007 invalid UTF-8), and those of a
 * close with no code of the client's choosing (1000 normal, 1005 none sent,
 * 1006 connection lost). Any other code is the client's choice and counts as
 * `other`, so that clients cannot mint metric series.
 */
const COUNTED_CLOSE_CODES: ReadonlySet<number> = new Set([...Object.values(CloseCode), 1000, 1002, 1005, 1006, 1007]);

export function closeCodeLabel(code: number): string {
  return COUNTED_CLOSE_CODES.has(code) ? String(code) : 'other';
}

const CLIENT_TYPES = Object.keys(CLIENT_MESSAGES) as (keyof typeof CLIENT_MESSAGES)[];
const EXPECTED_TYPES = `${CLIENT_TYPES.slice(0, -1).join(', ')} or ${CLIENT_TYPES[CLIENT_TYPES.length - 1]}`;

/**
 * Parses a client's text frame against the client message schemas; returns
 * an error message for the client when it is not valid. Fields the schema
 * does not name are dropped.
 */
export function parseClientMessage(text: string): ClientMessage | string {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return 'messages must be JSON objects';
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return 'messages must be JSON objects';
  const fields = message as Record<string, unknown>;
  const type = CLIENT_TYPES.find((name) => name === fields.type);
  if (!type) return `unknown message type ${JSON.stringify(fields.type ?? null)}; expected ${EXPECTED_TYPES}`;
  const schema: JsonSchema = CLIENT_MESSAGES[type];
  const parsed: Record<string, unknown> = { type };
  for (const name of schema.required ?? []) {
    const field = schema.properties![name];
    if (name !== 'type' && !satisfiesScalar(field, fields[name])) return `${type} needs a ${name} ${field.type}`;
    parsed[name] = fields[name];
  }
  return parsed as ClientMessage;
}

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
