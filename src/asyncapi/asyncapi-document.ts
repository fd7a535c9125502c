import { JsonSchema } from '../common/json-schema';
import { EventCatalogue } from '../catalogue/catalogue';
import { CLOSE_RULE_LIST, CloseRule } from '../gateway/protocol';
import { CLIENT_MESSAGES, EVENT_ENVELOPE, SERVER_MESSAGES } from '../gateway/message-schemas';

/** The channel's key in the document; its address is the socket's path. */
export const CHANNEL = 'events';

/** The document's key for a catalogue event's message (kept apart from the protocol's own messages). */
export const eventMessageKey = (name: string): string => `event.${name}`;

const ACTION_TEXT: Readonly<Record<CloseRule['action'], string>> = {
  stop: 'Closed for good: do not reconnect.',
  'new-session': 'Set up a new session (POST /identity/setup) when an access token is at hand, else stop. Event ids restart at 1.',
  resume: 'Reconnect with backoff and resume with `?lastEventId=` of the newest event handled.',
  'fix-client': 'A bug in the client: report it, then reconnect with backoff and resume.',
};

export interface AsyncApiOptions {
  readonly heartbeatIntervalMs: number;
}

/**
 * The AsyncAPI 3.0 document of `GET /ws`, built from the definitions the
 * gateway runs on: the message schemas it parses and types its frames with,
 * the close codes it sends, and the event catalogue it routes by. An event
 * added to the catalogue, or a message added to the protocol, appears here.
 */
export function buildAsyncApiDocument(catalogue: EventCatalogue, options: AsyncApiOptions): Record<string, unknown> {
  const channelRef = { $ref: `#/channels/${CHANNEL}` };
  const messageRef = (key: string) => ({ $ref: `#/channels/${CHANNEL}/messages/${key}` });
  const security = [{ $ref: '#/components/securitySchemes/webSocketTokenQuery' }, { $ref: '#/components/securitySchemes/webSocketTokenHeader' }];

  const messages: Record<string, unknown> = {};
  for (const [type, schema] of Object.entries(SERVER_MESSAGES)) messages[type] = protocolMessage(type, schema, 'server');
  for (const [type, schema] of Object.entries(CLIENT_MESSAGES)) messages[type] = protocolMessage(type, schema, 'client');
  for (const entry of catalogue.entries) {
    const data = catalogue.dataSchema(entry.name);
    messages[eventMessageKey(entry.name)] = {
      name: entry.name,
      title: entry.name,
      summary: `${entry.target === 'group' ? 'Group' : 'Identity'} event for ${entry.modes.join(', ')}.`,
      description:
        `Target: ${entry.target}${entry.target === 'group' ? ' (delivered to the managers of the group, with `group`)' : ''}. ` +
        `Modes that may have it: ${entry.modes.join(', ') || 'none'}.`,
      contentType: 'application/json',
      payload: eventPayload(entry.name, entry.target, data),
      examples: (data.examples ?? []).map((example) => ({
        name: `${entry.name} example`,
        payload: {
          type: 'event',
          id: '1',
          event: entry.name,
          identity: '+905321110001',
          ...(entry.target === 'group' ? { group: 'sales' } : {}),
          timestamp: '2026-11-28T10:15:30.120Z',
          data: example,
        },
      })),
      tags: [{ name: entry.target === 'group' ? 'group events' : 'identity events' }],
      'x-target': entry.target,
      'x-modes': entry.modes,
    };
  }

  const eventKeys = catalogue.entries.map((entry) => eventMessageKey(entry.name));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'VORA Gateway WebSocket',
      version: '0.2',
      description: INFO_DESCRIPTION,
      tags: [{ name: 'identity events' }, { name: 'group events' }, { name: 'protocol' }],
    },
    defaultContentType: 'application/json',
    channels: {
      [CHANNEL]: {
        address: '/ws',
        title: 'Event socket',
        summary: 'One socket per session: the welcome, then the session\'s events in id order.',
        description: channelDescription(options),
        messages: Object.fromEntries(Object.keys(messages).map((key) => [key, { $ref: `#/components/messages/${key}` }])),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: {
                  type: 'string',
                  description: 'The webSocketToken from POST /identity/setup, unless it is sent as `Authorization: Bearer`.',
                },
                lastEventId: {
                  type: 'string',
                  pattern: '^[0-9]{1,15}$',
                  description:
                    'Resume after this event id: every buffered event after it is replayed before live ones. ' +
                    'Without it, replay starts after the last event written to a socket of the session.',
                },
              },
            },
            headers: {
              type: 'object',
              properties: {
                Authorization: { type: 'string', pattern: '^Bearer .+$', description: '`Bearer <webSocketToken>`, unless it is sent as `?token=`.' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
        'x-close-codes': CLOSE_RULE_LIST.map((rule) => ({ ...rule, clientAction: ACTION_TEXT[rule.action] })),
      },
    },
    operations: {
      sendWelcome: {
        action: 'send',
        channel: channelRef,
        title: 'Welcome',
        summary: 'The first message on every socket.',
        messages: [messageRef('welcome')],
        security,
      },
      sendEvents: {
        action: 'send',
        channel: channelRef,
        title: 'Events',
        summary: 'The events the subscription allows, in the order the platform published them for the identity.',
        messages: [messageRef('event'), ...eventKeys.map(messageRef)],
        security,
      },
      sendError: {
        action: 'send',
        channel: channelRef,
        title: 'Errors',
        summary: 'The answer to a client message that could not be taken.',
        messages: [messageRef('error')],
        security,
      },
      receivePing: {
        action: 'receive',
        channel: channelRef,
        title: 'Ping',
        summary: 'An application-level ping, answered with a pong.',
        messages: [messageRef('ping')],
        reply: { channel: channelRef, messages: [messageRef('pong')] },
        security,
      },
      receiveReadyOrDecline: {
        action: 'receive',
        channel: channelRef,
        title: 'Ready or decline',
        summary: 'A holdUpMode client\'s answer to a waiting call (SPEC section 7).',
        messages: [messageRef('ready'), messageRef('decline')],
        security,
      },
    },
    components: {
      messages,
      securitySchemes: {
        webSocketTokenQuery: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'The webSocketToken from POST /identity/setup in `?token=` (what browsers must use).',
        },
        webSocketTokenHeader: {
          type: 'http',
          scheme: 'bearer',
          description: 'The webSocketToken from POST /identity/setup in `Authorization: Bearer` (native clients).',
        },
      },
    },
  };
}

function protocolMessage(type: string, schema: JsonSchema, from: 'server' | 'client'): Record<string, unknown> {
  const { examples, ...payload } = schema;
  return {
    name: type,
    title: type,
    summary: `${from === 'server' ? 'Server' : 'Client'} message \`${type}\`.`,
    description: schema.description,
    contentType: 'application/json',
    payload,
    examples: (examples ?? []).map((example, index) => ({ name: `${type} example ${index + 1}`, payload: example })),
    tags: [{ name: 'protocol' }],
  };
}

/** The envelope of one catalogue event: its name fixed, its `data` the catalogue's schema. */
function eventPayload(name: string, target: 'identity' | 'group', data: JsonSchema): JsonSchema {
  const { examples: _examples, ...dataSchema } = data;
  const { examples: _envelopeExamples, description: _description, ...envelope } = EVENT_ENVELOPE;
  return {
    ...envelope,
    title: name,
    required: target === 'group' ? [...EVENT_ENVELOPE.required, 'group'] : EVENT_ENVELOPE.required,
    properties: { ...EVENT_ENVELOPE.properties, event: { const: name }, data: dataSchema },
  };
}

const INFO_DESCRIPTION = `The real-time half of the VORA Gateway: after \`POST /identity/setup\` (the REST API, described at /docs),
a client holds one WebSocket per session on \`GET /ws\`, over which the platform's call and feature events reach it.

- **Handshake**: the webSocketToken in \`?token=\` or \`Authorization: Bearer\`. A missing, unknown or revoked token is
  answered with HTTP 401 before the upgrade; an \`Origin\` outside \`WS_ALLOWED_ORIGINS\` with 403; too many sockets
  with 429 and \`Retry-After\`; a gateway shutting down with 503. Every refusal carries the REST API's error body.
- **Welcome first**, then events in id order, each once: ids count per session (1, 2, 3, ... with no holes).
- **Resume**: reconnect with \`?lastEventId=<newest id handled>\`; every buffered event after it is replayed before live
  ones, with no gap and no duplicate. \`recovered: false\` in the welcome says that id had left the buffer; the oldest
  kept events follow, and the client should resync its state.
- **Heartbeat**: protocol pings every \`heartbeatIntervalMs\`; a client may send \`{"type":"ping"}\` and gets a pong.
- The \`@vora/client\` library implements all of this; see the close codes in the channel's description.`;

function channelDescription(options: AsyncApiOptions): string {
  const rows = CLOSE_RULE_LIST.map((rule) => `| ${rule.code} | ${rule.meaning} | ${ACTION_TEXT[rule.action]} |`);
  return [
    'The session\'s socket. Only events its subscription allows arrive (change it with POST /identity/{identity}/eventSubscription,',
    'effective at once). Events published while no socket is open are buffered and replayed on the next connect.',
    '',
    `This gateway pings every ${options.heartbeatIntervalMs} ms and terminates a socket that misses a pong for one interval.`,
    `A client that has received nothing (no message, no ping) for \`heartbeatIntervalMs\` + 10 s should reconnect and resume.`,
    '',
    '**Close codes** and what a client should do (also in `x-close-codes`):',
    '',
    '| code | meaning | what the client does |',
    '|---|---|---|',
    ...rows,
  ].join('\n');
}
