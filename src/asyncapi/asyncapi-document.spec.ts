import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { EventCatalogue } from '../catalogue/catalogue';
import { frameOf, frameTail } from '../events/envelope';
import { CloseCode, ClientMessage, parseClientMessage, ServerMessage } from '../gateway/protocol';
import { buildAsyncApiDocument, CHANNEL, eventMessageKey } from './asyncapi-document';

/**
 * Every message type of the protocol, listed through the TypeScript types the
 * gateway sends and parses with: a type added to either union without a
 * schema (so missing from the document) fails to compile here, and its
 * absence from the document fails below.
 */
const SERVER_TYPES: Record<ServerMessage['type'] | 'event', true> = { welcome: true, event: true, pong: true, error: true };
const CLIENT_TYPES: Record<ClientMessage['type'], true> = { ping: true, ready: true, decline: true };

const shipped = EventCatalogue.fromFile(join(__dirname, '../../config/events.json'));
const build = (catalogue = shipped) => buildAsyncApiDocument(catalogue, { heartbeatIntervalMs: 25_000 }) as any;

describe('the AsyncAPI document', () => {
  it('is a valid AsyncAPI 3.0 document: no errors and no warnings from @asyncapi/parser', async () => {
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(build()));
    expect(document).toBeDefined();
    expect(diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document!.version()).toBe('3.0.0');
  });

  it.each([...Object.keys(SERVER_TYPES), ...Object.keys(CLIENT_TYPES)])('describes the %s message in the /ws channel and an operation', (type) => {
    const document = build();
    expect(document.components.messages[type].payload.properties.type).toEqual({ const: type });
    expect(document.channels[CHANNEL].messages[type]).toEqual({ $ref: `#/components/messages/${type}` });
    const operations = Object.values(document.operations) as any[];
    const ref = `#/channels/${CHANNEL}/messages/${type}`;
    expect(operations.some((op) => [...op.messages, ...(op.reply?.messages ?? [])].some((m: any) => m.$ref === ref))).toBe(true);
  });

  it('sends server messages and receives client messages', () => {
    const { operations } = build();
    const refs = (action: string) =>
      Object.values(operations as Record<string, any>)
        .filter((op) => op.action === action)
        .flatMap((op) => op.messages.map((m: any) => m.$ref.split('/').pop()));
    expect(refs('receive').sort()).toEqual(Object.keys(CLIENT_TYPES).sort());
    expect(refs('send')).toEqual(expect.arrayContaining(['welcome', 'event', 'error']));
    expect(operations.receivePing.reply.messages).toEqual([{ $ref: `#/channels/${CHANNEL}/messages/pong` }]);
  });

  it('has one message per catalogue event, with its data schema, target and modes', () => {
    const document = build();
    for (const entry of shipped.entries) {
      const message = document.components.messages[eventMessageKey(entry.name)];
      expect(message).toBeDefined();
      expect(message.payload.properties.event).toEqual({ const: entry.name });
      const { examples, ...data } = shipped.dataSchema(entry.name);
      expect(message.payload.properties.data).toEqual(data);
      expect(message.examples.map((e: any) => e.payload.data)).toEqual(examples);
      expect(message['x-target']).toBe(entry.target);
      expect(message['x-modes']).toEqual(entry.modes);
      expect(message.payload.required).toEqual(expect.arrayContaining(entry.target === 'group' ? ['group', 'data'] : ['data']));
    }
    expect(document.components.messages['event.CallDelivered'].payload.properties.data.required).toEqual(['callId', 'direction', 'remoteParty']);
    expect(document.components.messages['event.AgentStateChanged']['x-modes']).toEqual(['manager']);
  });

  it('takes in an event an operator adds to the catalogue', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vora-asyncapi-')), 'events.json');
    writeFileSync(
      file,
      JSON.stringify({
        events: [
          { name: 'ParkedCallReminder', target: 'identity', modes: ['user'], data: { type: 'object', properties: { slot: { type: 'integer' } } } },
          { name: 'QueueOverflow', target: 'group', modes: ['manager'] },
        ],
      }),
    );
    const document = build(EventCatalogue.fromFile(file));
    expect(document.components.messages['event.ParkedCallReminder'].payload.properties.data).toEqual({
      type: 'object',
      properties: { slot: { type: 'integer' } },
    });
    expect(document.components.messages['event.QueueOverflow'].payload.properties.data).toEqual({ type: 'object' });
    expect(document.operations.sendEvents.messages.map((m: any) => m.$ref.split('/').pop())).toEqual([
      'event',
      'event.ParkedCallReminder',
      'event.QueueOverflow',
    ]);
    const { diagnostics } = await new Parser().parse(JSON.stringify(document));
    expect(diagnostics.filter((d) => d.severity === 0)).toEqual([]);
  });

  it('lists every close code with what a client should do (SPEC section 11)', () => {
    const channel = build().channels[CHANNEL];
    const actions = Object.fromEntries(channel['x-close-codes'].map((rule: any) => [rule.code, rule.action]));
    expect(actions).toEqual({
      4000: 'stop',
      4002: 'stop',
      4001: 'new-session',
      4008: 'resume',
      1001: 'resume',
      1006: 'resume',
      1011: 'resume',
      1003: 'fix-client',
      1008: 'fix-client',
      1009: 'fix-client',
    });
    for (const code of Object.values(CloseCode)) expect(channel.description).toContain(`| ${code} |`);
  });

  it('describes the handshake: token in the query or the header, and lastEventId', () => {
    const { bindings } = build().channels[CHANNEL];
    expect(Object.keys(bindings.ws.query.properties)).toEqual(['token', 'lastEventId']);
    expect(Object.keys(bindings.ws.headers.properties)).toEqual(['Authorization']);
    expect(build().channels[CHANNEL].address).toBe('/ws');
  });

  describe('its schemas fit what the gateway sends and parses', () => {
    const ajv = addFormats(new Ajv({ strict: false }));
    const document = build();
    const schemaOf = (key: string) => ajv.compile(document.components.messages[key].payload);

    it('every example of every message validates against its own payload schema', () => {
      for (const [key, message] of Object.entries(document.components.messages as Record<string, any>)) {
        const validate = schemaOf(key);
        for (const example of message.examples) expect({ key, valid: validate(example.payload), errors: validate.errors }).toMatchObject({ valid: true });
      }
    });

    it('the event frames the gateway writes validate against the envelope and their event\'s message', () => {
      const identityFrame = JSON.parse(
        frameOf(7, frameTail({ event: 'CallDelivered', timestamp: '2026-11-28T10:15:30.120Z', dataJson: '{"callId":"c","direction":"terminating","remoteParty":"+905551112233"}' }, '+905321110001')),
      );
      const groupFrame = JSON.parse(
        frameOf(8, frameTail({ event: 'QueueStatusChanged', group: 'sales', timestamp: '2026-11-28T10:15:30.120Z', dataJson: '{"waiting":2}' }, '+905321110003')),
      );
      for (const [key, frame] of [['event', identityFrame], ['event.CallDelivered', identityFrame], ['event', groupFrame], ['event.QueueStatusChanged', groupFrame]]) {
        const validate = schemaOf(key);
        expect({ key, valid: validate(frame), errors: validate.errors }).toMatchObject({ valid: true });
      }
      expect(schemaOf('event.QueueStatusChanged')({ ...groupFrame, group: undefined })).toBe(false);
    });

    it('the gateway accepts the client messages the document shows, and refuses what their schemas refuse', () => {
      for (const type of Object.keys(CLIENT_TYPES)) {
        for (const example of document.components.messages[type].examples) expect(parseClientMessage(JSON.stringify(example.payload))).toEqual(example.payload);
        expect(schemaOf(type)({ type, callId: '' })).toBe(type === 'ping');
      }
      expect(parseClientMessage('{"type":"ready","callId":""}')).toBe('ready needs a callId string');
    });
  });
});
