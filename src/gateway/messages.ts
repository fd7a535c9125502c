import { ClientMode } from '../auth/modes';
import { EffectiveSubscription } from '../events/subscription.dto';

/** What the server sends. Events are pre-serialized frames (see events/envelope.ts). */
export type ServerMessage =
  | {
      type: 'welcome';
      sessionId: string;
      identity: string;
      mode: ClientMode;
      subscription: EffectiveSubscription;
      heartbeatIntervalMs: number;
      lastEventId: string;
      recovered: boolean;
      /** When the session ends whatever the socket does (SESSION_MAX_LIFETIME_S after setup), ISO-8601. */
      expiresAt: string;
    }
  | { type: 'pong' }
  | { type: 'error'; message: string };

/** What a client may send (SPEC sections 4 and 7). */
export type ClientMessage = { type: 'ping' } | { type: 'ready'; callId: string } | { type: 'decline'; callId: string };

/** Close codes of SPEC section 4 and RFC 6455. */
export const CloseCode = {
  GoingAway: 1001,
  UnsupportedData: 1003,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  LoggedOut: 4000,
  SessionExpired: 4001,
  Replaced: 4002,
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

/** Parses a client's text frame; returns an error message for the client when it is not valid. */
export function parseClientMessage(text: string): ClientMessage | string {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return 'messages must be JSON objects';
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return 'messages must be JSON objects';
  const { type, callId } = message as Record<string, unknown>;
  if (type === 'ping') return { type };
  if (type === 'ready' || type === 'decline') {
    if (typeof callId !== 'string' || !callId || callId.length > 128) return `${type} needs a callId string`;
    return { type, callId };
  }
  return `unknown message type ${JSON.stringify(type ?? null)}; expected ping, ready or decline`;
}
