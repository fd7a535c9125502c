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
