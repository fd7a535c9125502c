import { CLIENT_MODES } from '../auth/modes';
import { JsonSchema } from '../common/json-schema';

/**
 * The WebSocket protocol's messages (SPEC sections 4 and 7) as JSON Schemas:
 * the one description that the gateway parses and types its frames with, that
 * the AsyncAPI document publishes and that the client library's types are
 * generated from. A message added here reaches all three.
 */

const subscription = {
  type: 'object',
  description: 'The subscription in force, always listing its events explicitly.',
  required: ['subscribeAll', 'events'],
  properties: {
    subscribeAll: { type: 'boolean', description: 'True when every event the mode may have is wanted.' },
    events: { type: 'array', items: { type: 'string' }, description: 'The events this socket receives.' },
  },
  additionalProperties: false,
} as const satisfies JsonSchema;

const callId = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: 'The `callId` of the `CallDelivered` that woke the client.',
} as const satisfies JsonSchema;

/** What a client may send. */
export const CLIENT_MESSAGES = {
  ping: {
    type: 'object',
    title: 'ping',
    description: 'Asks for a `pong`: lets a client that cannot see protocol pings (a browser) check the connection.',
    required: ['type'],
    properties: { type: { const: 'ping' } },
    examples: [{ type: 'ping' }],
  },
  ready: {
    type: 'object',
    title: 'ready',
    description: 'A holdUpMode client woken by a push is ready to take the call (SPEC section 7).',
    required: ['type', 'callId'],
    properties: { type: { const: 'ready' }, callId },
    examples: [{ type: 'ready', callId: 'c-1' }],
  },
  decline: {
    type: 'object',
    title: 'decline',
    description: 'A holdUpMode client woken by a push declines the call (SPEC section 7).',
    required: ['type', 'callId'],
    properties: { type: { const: 'decline' }, callId },
    examples: [{ type: 'decline', callId: 'c-1' }],
  },
} as const satisfies Record<string, JsonSchema>;

/** The envelope every event arrives in; `data` is the catalogue's schema for the event. */
export const EVENT_ENVELOPE = {
  type: 'object',
  title: 'event',
  description:
    'One event of the catalogue. `id` counts per session (1, 2, 3, ... with no holes): keep the newest one handled ' +
    'and reconnect with `?lastEventId=` to resume. Group events carry `group` too.',
  required: ['type', 'id', 'event', 'identity', 'timestamp', 'data'],
  properties: {
    type: { const: 'event' },
    id: { type: 'string', pattern: '^[1-9][0-9]*$', description: 'The per-session event id, a decimal string.' },
    event: { type: 'string', description: 'The event name, from the catalogue.' },
    identity: { type: 'string', description: 'The identity of the session receiving the event.' },
    group: { type: 'string', description: 'The group of a group event (AgentStateChanged, QueueStatusChanged).' },
    timestamp: { type: 'string', format: 'date-time', description: 'When the event occurred (ISO-8601).' },
    data: { type: 'object', description: 'The event payload, as the telephony core published it.' },
  },
  additionalProperties: false,
  examples: [
    {
      type: 'event',
      id: '1',
      event: 'CallDelivered',
      identity: '+905321110001',
      timestamp: '2026-11-28T10:15:30.120Z',
      data: { callId: 'c-1', direction: 'terminating', remoteParty: '+905551112233' },
    },
  ],
} as const satisfies JsonSchema;

/** What the server sends. */
export const SERVER_MESSAGES = {
  welcome: {
    type: 'object',
    title: 'welcome',
    description:
      'The first message on every socket. `lastEventId` is the newest id in the session\'s buffer ("0" when none); ' +
      '`recovered: false` says the `lastEventId` asked for had left the buffer: events were missed, resync.',
    required: ['type', 'sessionId', 'identity', 'mode', 'subscription', 'heartbeatIntervalMs', 'lastEventId', 'recovered', 'expiresAt'],
    properties: {
      type: { const: 'welcome' },
      sessionId: { type: 'string', description: 'The session this socket belongs to.' },
      identity: { type: 'string', description: 'The identity of the session.' },
      mode: { enum: CLIENT_MODES, description: 'The caller\'s mode (SPEC section 1).' },
      subscription,
      heartbeatIntervalMs: {
        type: 'integer',
        minimum: 1,
        description: 'The protocol ping interval; a client that hears nothing for this long plus 10 s should reconnect.',
      },
      lastEventId: { type: 'string', pattern: '^(0|[1-9][0-9]*)$', description: 'The newest event id buffered for the session.' },
      recovered: { type: 'boolean', description: 'False when the asked-for `lastEventId` was no longer buffered.' },
      expiresAt: {
        type: 'string',
        format: 'date-time',
        description: 'When the session ends, whatever the socket does (SESSION_MAX_LIFETIME_S after setup); close 4001 then.',
      },
    },
    additionalProperties: false,
    examples: [
      {
        type: 'welcome',
        sessionId: '5b0d8c0e-4f7a-4f57-9a55-0d3d3c1f9a11',
        identity: '+905321110001',
        mode: 'user',
        subscription: { subscribeAll: true, events: ['CallDelivered', 'CallCleared'] },
        heartbeatIntervalMs: 25000,
        lastEventId: '0',
        recovered: true,
        expiresAt: '2026-11-29T10:15:30.120Z',
      },
    ],
  },
  event: EVENT_ENVELOPE,
  pong: {
    type: 'object',
    title: 'pong',
    description: 'The answer to a `ping`.',
    required: ['type'],
    properties: { type: { const: 'pong' } },
    additionalProperties: false,
    examples: [{ type: 'pong' }],
  },
  error: {
    type: 'object',
    title: 'error',
    description:
      'A client message the gateway could not take (invalid JSON, an unknown type, a `ready` for a call not waiting). ' +
      'More than 10 a minute close the socket with 1008.',
    required: ['type', 'message'],
    properties: { type: { const: 'error' }, message: { type: 'string', description: 'What was wrong, for the developer.' } },
    additionalProperties: false,
    examples: [{ type: 'error', message: 'unknown message type "hello"; expected ping, ready or decline' }],
  },
} as const satisfies Record<string, JsonSchema>;
