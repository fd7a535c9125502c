import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_KEYS, expectLive, rawRequest, within } from './attack-kit';
import { ALICE, ALICE_FIXED, BOB, CAROL } from '../support/fixtures';
import { http, setupSession, TestSocket, useGateway } from '../support/harness';

/**
 * Property-based fuzzing of every request body and every client WebSocket
 * message: whatever the input, the answer is a 2xx or a 4xx in the error
 * shape (or one of the close codes SPEC section 4 gives for bad input),
 * never a 5xx, never a crash, never a hang. A failure prints the seed and the
 * shrunk input; FC_SEED=<seed> replays a run.
 */

const MAX_PAYLOAD = 1024;
const HTTP_RUNS = 200;
const WS_RUNS = 100;
/** A single input must be answered within this long, or the run counts as a hang. */
const ANSWER_WITHIN_MS = 5_000;
const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
const settings = (numRuns: number) => ({ numRuns, timeout: ANSWER_WITHIN_MS, seed: SEED, endOnFailure: false });

const EVENT_NAMES = (JSON.parse(readFileSync(join(__dirname, '../../config/events.json'), 'utf8')) as { events: { name: string }[] }).events.map(
  (e) => e.name,
);
const IDENTITIES = [ALICE, ALICE_FIXED, BOB, CAROL, 'erin.admin', ''];

/** Values a field may plausibly hold, mixed with anything at all. */
const anything = fc.jsonValue({ maxDepth: 3 });
const fieldValues: Record<string, fc.Arbitrary<unknown>> = {
  connectionType: fc.oneof(fc.constantFrom('WEB', 'DESKTOP', 'MOBILE', 'web', 'TV'), anything),
  identity: fc.oneof(fc.constantFrom(...IDENTITIES), fc.string(), anything),
  holdUpMode: fc.oneof(fc.boolean(), anything),
  subscribeAll: fc.oneof(fc.boolean(), anything),
  events: fc.oneof(fc.uniqueArray(fc.constantFrom(...EVENT_NAMES), { maxLength: 5 }), fc.array(fc.oneof(fc.constantFrom(...EVENT_NAMES), fc.string())), anything),
  event: fc.oneof(fc.constantFrom(...EVENT_NAMES), fc.string(), anything),
  group: fc.oneof(fc.constantFrom('sales', 'support', ''), fc.string(), anything),
  data: fc.oneof(fc.dictionary(fc.string(), anything, { maxKeys: 4 }), anything),
  occurredAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), anything),
};

/** An object whose keys come from the route's real fields, sometimes with random keys added. */
const objectOf = (fields: string[]): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(
      fc.record(Object.fromEntries(fields.map((f) => [f, fieldValues[f]])), { requiredKeys: [] }),
      fc.dictionary(fc.oneof(fc.constantFrom(...fields, '__proto__', 'constructor', 'prototype', 'type'), fc.string()), anything, { maxKeys: 3 }),
      fc.boolean(),
    )
    .map(([known, extra, withExtra]) => (withExtra ? { ...extra, ...known } : known));

describe('attack: property-based fuzzing', () => {
  const { issuer, gateway } = useGateway({
    WS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
    RATE_LIMIT_PER_MINUTE: '1000000',
    INGRESS_RATE_LIMIT_PER_MINUTE: '1000000',
    MAX_SOCKETS_PER_USER: '1000',
    MAX_SESSIONS_PER_USER: '100',
  });
  let alice: string;
  let platform: string;

  beforeAll(async () => {
    alice = await issuer.sign({ sub: 'alice', expiresInS: 3600 });
    platform = await issuer.sign({ sub: 'telephony-core', scope: 'vora:events:publish', expiresInS: 3600 });
  });

  /** 2xx, or 4xx with exactly the seed's error body as application/json. Never 5xx. */
  function checkAnswer(result: { status: number; headers: Headers; body: any }, success: (body: any) => void): void {
    if (result.status >= 200 && result.status < 300) return success(result.body);
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).toBeLessThan(500);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(result.body ?? {}).sort()).toEqual(ERROR_KEYS);
    expect(result.body.status).toBe(String(result.status));
    expect(typeof result.body.message).toBe('string');
    expect(new Date(result.body.timestamp).toISOString()).toBe(result.body.timestamp);
  }

  interface Route {
    name: string;
    path: () => string;
    token: () => string;
    fields: string[];
    success: (body: any) => void;
  }
  const routes: Route[] = [
    {
      name: 'POST /identity/setup',
      path: () => '/identity/setup',
      token: () => alice,
      fields: ['connectionType', 'identity', 'holdUpMode'],
      success: (body) => expect(Object.keys(body)).toEqual(['webSocketToken']),
    },
    {
      name: 'POST /identity/{identity}/eventSubscription',
      path: () => `/identity/${encodeURIComponent(ALICE)}/eventSubscription`,
      token: () => alice,
      fields: ['subscribeAll', 'events'],
      success: (body) => {
        expect(Object.keys(body).sort()).toEqual(['events', 'subscribeAll']);
        expect(typeof body.subscribeAll).toBe('boolean');
        expect(Array.isArray(body.events)).toBe(true);
      },
    },
    {
      name: 'POST /events',
      path: () => '/events',
      token: () => platform,
      fields: ['event', 'identity', 'group', 'data', 'occurredAt'],
      success: (body) => expect(body).toEqual({ accepted: expect.any(Number) }),
    },
  ];

  describe.each(routes.map((route) => [route.name, route] as const))('%s', (_name, route) => {
    beforeAll(async () => {
      // A live session, so that eventSubscription can get past its 404 and reach validation.
      await setupSession(gateway, alice, { identity: ALICE, connectionType: 'WEB' });
    });
    afterAll(() => expectLive(gateway));

    const post = (body: string) =>
      rawRequest(gateway, route.path(), {
        method: 'POST',
        headers: { authorization: `Bearer ${route.token()}`, 'content-type': 'application/json' },
        body,
      });

    const bodies: Array<[string, fc.Arbitrary<string>]> = [
      ['any JSON value', fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null')],
      [
        'objects (and batches of them) with real and random keys',
        fc.oneof(objectOf(route.fields), fc.array(objectOf(route.fields), { maxLength: 4 })).map((value) => JSON.stringify(value)),
      ],
      ['any string as the raw body', fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }))],
    ];

    it.each(bodies)('answers %s with 2xx or 4xx in the error shape', async (_what, arbitrary) => {
      await fc.assert(
        fc.asyncProperty(arbitrary, async (body) => {
          checkAnswer(await post(body), route.success);
        }),
        settings(HTTP_RUNS),
      );
    });
  });

  it.each([
    ['POST /logout/{identity}', (identity: string) => `/logout/${identity}`],
    ['POST /identity/{identity}/eventSubscription', (identity: string) => `/identity/${identity}/eventSubscription`],
  ])('%s answers any identity in the path with 2xx or 4xx in the error shape', async (_name, path) => {
    const identity = fc.oneof(
      fc.string().map(encodeURIComponent),
      fc.string({ unit: 'binary', maxLength: 200 }).map(encodeURIComponent),
      fc.stringMatching(/^[%+0-9a-fA-F./]{0,40}$/),
    );
    await fc.assert(
      fc.asyncProperty(identity, async (segment) => {
        // Alice never names her own session here by accident: that would log her out, which is a 200 anyway.
        const result = await rawRequest(gateway, path(segment), {
          method: 'POST',
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          body: '{"subscribeAll":true}',
        });
        checkAnswer(result, () => undefined);
      }),
      settings(HTTP_RUNS / 2),
    );
    await expectLive(gateway);
  });

  describe('client WebSocket messages', () => {
    let webSocketToken: string;
    let socket: TestSocket | undefined;

    beforeAll(async () => {
      webSocketToken = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    });
    afterAll(() => socket?.close());

    /** The open socket, or a new one (after the welcome) when the server closed the last. */
    async function live(): Promise<TestSocket> {
      if (socket && !socket.isClosed) return socket;
      const opened = await TestSocket.connect(gateway, { token: webSocketToken });
      socket = opened.socket;
      return socket;
    }

    /** Sends one input and checks what comes back: a pong, an error message, or a close for bad input. */
    async function answerTo(send: (socket: TestSocket) => void): Promise<void> {
      const current = await live();
      const before = current.received.length;
      send(current);
      const answered = await within(ANSWER_WITHIN_MS - 500, () => current.received.length > before || current.isClosed, 5);
      expect(answered).toBe(true);
      if (current.received.length > before) {
        const reply = current.received[before];
        expect(reply).toEqual(expect.objectContaining({ type: expect.stringMatching(/^(pong|error)$/) }));
        if (reply.type === 'pong') expect(reply).toEqual({ type: 'pong' });
        else expect(Object.keys(reply).sort()).toEqual(['message', 'type']);
        return;
      }
      const { code } = await current.closed();
      expect([1003, 1008, 1009]).toContain(code);
    }

    const messages: Array<[string, fc.Arbitrary<(socket: TestSocket) => void>]> = [
      ['any JSON value, serialized', fc.jsonValue().map((value) => (s: TestSocket) => s.socket.send(JSON.stringify(value) ?? 'null'))],
      [
        'objects with the protocol keys',
        fc
          .record(
            {
              type: fc.oneof(fc.constantFrom('ping', 'ready', 'decline', 'pong', 'welcome', 'event', 'PING'), anything),
              callId: fc.oneof(fc.string({ maxLength: 200 }), anything),
            },
            { requiredKeys: [] },
          )
          .map((value) => (s: TestSocket) => s.socket.send(JSON.stringify(value))),
      ],
      [
        'any string',
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ minLength: MAX_PAYLOAD - 10, maxLength: MAX_PAYLOAD * 2 })).map(
          (text) => (s: TestSocket) => s.socket.send(text),
        ),
      ],
      ['any bytes as a binary frame', fc.uint8Array({ maxLength: MAX_PAYLOAD * 2 }).map((bytes) => (s: TestSocket) => s.socket.send(bytes, { binary: true }))],
    ];

    it.each(messages)('answers %s with a pong, an error message or a 1003/1008/1009 close', async (_what, arbitrary) => {
      await fc.assert(fc.asyncProperty(arbitrary, answerTo), settings(WS_RUNS));
      // Still serving: a fresh socket gets its welcome and a pong.
      await socket?.close();
      socket = undefined;
      const current = await live();
      current.send({ type: 'ping' });
      expect(await current.next()).toEqual({ type: 'pong' });
      await expectLive(gateway);
    });
  });

  it('is still live after everything', async () => {
    await expectLive(gateway);
    expect((await http(`${gateway.url}/identity`, { token: alice })).status).toBe(200);
  });
});
