import { Infer, JsonSchema, satisfiesScalar } from '../common/json-schema';
import { CLIENT_MESSAGES, SERVER_MESSAGES } from './message-schemas';

type Schemas = typeof SERVER_MESSAGES;

/** What the server sends, typed from its schemas. Events are pre-serialized frames (see events/envelope.ts). */
export type ServerMessage = Infer<Schemas['welcome']> | Infer<Schemas['pong']> | Infer<Schemas['error']>;

/** What a client may send (SPEC sections 4 and 7), typed from its schemas. */
export type ClientMessage = { [Type in keyof typeof CLIENT_MESSAGES]: Infer<(typeof CLIENT_MESSAGES)[Type]> }[keyof typeof CLIENT_MESSAGES];

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
