import { SessionStore } from '../../src/session/session.store';
import { SubscriptionStore } from '../../src/subscriptions/subscription.store';
import { expectLive, isErrorBody, rawExchange, rawRequest } from './attack-kit';
import { ALICE, BOB } from '../support/fixtures';
import { expectError, http, HttpResult, useGateway } from '../support/harness';

/**
 * Hostile request bodies: prototype poisoning, sizes at and just over the
 * limits, nesting deep enough to exhaust a recursive walker, duplicate keys,
 * odd numbers and strings, and every content type that is not JSON.
 */

const INGRESS_MAX = 64 * 1024;
const CLIENT_MAX = 16 * 1024;
const POISONED = 'the request body contains a forbidden key (__proto__ or constructor)';
const TOO_LARGE = /^the request body is larger than this endpoint accepts/;

describe('attack: request bodies', () => {
  const { issuer, gateway } = useGateway({
    INGRESS_MAX_BODY_BYTES: String(INGRESS_MAX),
    RATE_LIMIT_PER_MINUTE: '100000',
    INGRESS_RATE_LIMIT_PER_MINUTE: '1000000',
  });
  let alice: string;
  let bob: string;
  let platform: string;

  /** Sends a body byte for byte, with the content type given (none when undefined). */
  const send = (path: string, token: string, body: string | Buffer, contentType: string | undefined = 'application/json') =>
    rawRequest(gateway, path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...(contentType === undefined ? {} : { 'content-type': contentType }) },
      body,
    });
  const routes = (): Array<[string, string, () => string]> => [
    ['POST /identity/setup', '/identity/setup', () => alice],
    ['POST /identity/{identity}/eventSubscription', `/identity/${encodeURIComponent(ALICE)}/eventSubscription`, () => alice],
    ['POST /events', '/events', () => platform],
  ];
  const ROUTES = ['POST /identity/setup', 'POST /identity/{identity}/eventSubscription', 'POST /events'];
  const route = (name: string) => routes().find(([n]) => n === name)!;

  beforeAll(async () => {
    alice = await issuer.sign({ sub: 'alice' });
    bob = await issuer.sign({ sub: 'bob' });
    platform = await issuer.sign({ sub: 'telephony-core', scope: 'vora:events:publish' });
    // eventSubscription needs a live session to get past its 404.
    expect((await http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType: 'WEB', identity: ALICE } })).status).toBe(200);
  });

  describe('prototype poisoning', () => {
    const validFor: Record<string, string> = {
      'POST /identity/setup': `"connectionType":"WEB","identity":"${ALICE}"`,
      'POST /identity/{identity}/eventSubscription': '"subscribeAll":true',
      'POST /events': `"event":"CallCleared","identity":"${ALICE}"`,
    };
    const payloads: Array<[string, (valid: string) => string]> = [
      ['__proto__ at the top', (v) => `{${v},"__proto__":{"polluted":"yes"}}`],
      ['__proto__ first', (v) => `{"__proto__":{"polluted":"yes"},${v}}`],
      ['__proto__ written with unicode escapes', (v) => `{${v},"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":"yes"}}`],
      ['__proto__ with partial escapes', (v) => `{${v},"_\\u005fpro\\u0074o__":{"polluted":"yes"}}`],
      ['constructor.prototype at the top', (v) => `{${v},"constructor":{"prototype":{"polluted":"yes"}}}`],
      ['__proto__ nested at depth 6', (v) => `{${v},"data":{"a":{"b":{"c":{"d":{"__proto__":{"polluted":"yes"}}}}}}}`],
      ['constructor.prototype nested at depth 6', (v) => `{${v},"data":{"a":{"b":{"c":{"d":{"constructor":{"prototype":{"polluted":"yes"}}}}}}}}`],
      ['__proto__ inside an array', (v) => `{${v},"events":[{"__proto__":{"polluted":"yes"}}]}`],
      ['__proto__ as an array item of a batch', (v) => `[{${v}},{"__proto__":{"polluted":"yes"}}]`],
      ['__proto__ holding a toString override', (v) => `{${v},"__proto__":{"toString":"x","valueOf":"y","hasOwnProperty":"z"}}`],
    ];

    describe.each(ROUTES)('%s', (name) => {
      it.each(payloads)('refuses %s with 400', async (_what, build) => {
        const [, path, token] = route(name);
        const result = await send(path, token(), build(validFor[name]));
        expectError(result, 400, POISONED);
      });
    });

    it.each([
      ['POST /identity/setup', 'constructor'],
      ['POST /identity/setup', 'prototype'],
      ['POST /identity/{identity}/eventSubscription', 'constructor'],
      ['POST /identity/{identity}/eventSubscription', 'prototype'],
    ])('%s names a %s key that holds no prototype as an unknown field, not a silent success', async (name, key) => {
      const [, path, token] = route(name);
      const result = await send(path, token(), `{${validFor[name]},"${key}":"x"}`);
      expectError(result, 400, `invalid request body: unknown field "${key}"`);
    });

    it('refuses __proto__ in the data of a published event (its items are merged into frames)', async () => {
      const result = await send('/events', platform, `[{"event":"CallCleared","identity":"${ALICE}","data":{"__proto__":{"isAdmin":true}}}]`);
      expectError(result, 400, POISONED);
    });

    it('keeps the query string from poisoning anything', async () => {
      const result = await rawRequest(gateway, '/identity?__proto__[polluted]=yes&constructor[prototype][polluted]=yes&__proto__.polluted=yes', {
        headers: { authorization: `Bearer ${alice}` },
      });
      expect([200, 400]).toContain(result.status);
      if (result.status !== 200) expectError(result, 400);
    });

    it('left Object.prototype of this process (the gateway runs in it) untouched, and the gateway working', async () => {
      const probe: Record<string, unknown> = {};
      expect(probe.polluted).toBeUndefined();
      expect(probe.isAdmin).toBeUndefined();
      expect(Object.keys(Object.prototype)).toEqual([]);
      expect(typeof probe.toString).toBe('function');
      const setup = await http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType: 'MOBILE', identity: ALICE } });
      expect(setup.status).toBe(200);
      await expectLive(gateway);
    });
  });

  describe('sizes', () => {
    /** A syntactically valid JSON object of exactly `size` bytes. */
    const jsonOf = (size: number, prefix = '{"pad":"', suffix = '"}') => `${prefix}${'x'.repeat(size - prefix.length - suffix.length)}${suffix}`;

    it.each(ROUTES.filter((name) => name !== 'POST /events'))('%s takes 16 KiB and answers 413 to one byte more', async (name) => {
      const [, path, token] = route(name);
      const atLimit = await send(path, token(), jsonOf(CLIENT_MAX));
      expectError(atLimit, 400); // read, then refused by validation: an unknown field
      expectError(await send(path, token(), jsonOf(CLIENT_MAX + 1)), 413, TOO_LARGE);
    });

    it('POST /events takes INGRESS_MAX_BODY_BYTES and answers 413 to one byte more', async () => {
      const item = `{"event":"CallCleared","identity":"${ALICE}","data":{"pad":"`;
      const atLimit = await send('/events', platform, jsonOf(INGRESS_MAX, item, '"}}'));
      expectError(atLimit, 400, /data is larger than 16 KiB/);
      expectError(await send('/events', platform, jsonOf(INGRESS_MAX + 1, item, '"}}')), 413, TOO_LARGE);
    });

    it.each(ROUTES)('%s answers 413 to a Content-Length far over the limit without waiting for the body', async (name) => {
      const [, path, token] = route(name);
      const result = await rawRequest(gateway, path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', 'content-length': '1073741824' },
        body: '{}',
      });
      expectError(result, 413, TOO_LARGE);
    });

    it.each(ROUTES)('%s answers 413 to an oversized chunked body (no Content-Length)', async (name) => {
      const [, path, token] = route(name);
      const result = await rawRequest(gateway, path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        body: jsonOf(INGRESS_MAX * 2),
      });
      expectError(result, 413, TOO_LARGE);
    });
  });

  describe('deep nesting', () => {
    const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const inField = (field: string, nested: string) => `{"connectionType":"WEB","identity":"${ALICE}","${field}":${nested}}`;

    const cases: Array<[string, string, () => string]> = [
      ['POST /identity/setup', 'arrays at depth 8 000 (the deepest under 16 KiB)', () => arrays(8_000)],
      ['POST /identity/setup', 'objects at depth 3 000 in a field', () => inField('holdUpMode', objects(3_000))],
      ['POST /identity/setup', 'arrays at depth 8 000 in a field', () => inField('identity', arrays(7_950))],
      ['POST /identity/setup', 'arrays at depth 10 000 (over 16 KiB)', () => arrays(10_000)],
      ['POST /identity/{identity}/eventSubscription', 'arrays at depth 8 000 in events', () => `{"subscribeAll":false,"events":${arrays(7_950)}}`],
      ['POST /identity/{identity}/eventSubscription', 'objects at depth 3 000', () => objects(3_000)],
      ['POST /events', 'arrays at depth 10 000', () => arrays(10_000)],
      ['POST /events', 'objects at depth 10 000', () => objects(10_000)],
      ['POST /events', 'objects at depth 10 000 in data', () => `{"event":"CallCleared","identity":"${ALICE}","data":${objects(10_000)}}`],
      ['POST /events', 'arrays at depth 10 000 in data', () => `{"event":"CallCleared","identity":"${ALICE}","data":{"x":${arrays(10_000)}}}`],
      ['POST /events', 'arrays at depth 30 000 in data', () => `{"event":"CallCleared","identity":"${ALICE}","data":{"x":${arrays(30_000)}}}`],
    ];

    it.each(cases)('%s with %s answers 400 or 413 and stays live', async (name, _what, body) => {
      const [, path, token] = route(name);
      const result = await send(path, token(), body());
      expect([400, 413]).toContain(result.status);
      expectError(result, result.status);
      await expectLive(gateway);
    });
  });

  describe('odd but well-formed JSON', () => {
    it("takes the last of duplicate keys, the same value for the ownership check as for the session: bob cannot slip in alice's identity", async () => {
      const result = await send('/identity/setup', bob, `{"connectionType":"WEB","identity":"${BOB}","identity":"${ALICE}"}`);
      expect([400, 403]).toContain(result.status);
      expectError(result, result.status);
      expect((await gateway.app.get(SessionStore).listByUser('bob')).filter((s) => s.identity === ALICE)).toEqual([]);
    });

    it('opens the session for the identity that was checked when the owner repeats the key', async () => {
      const result = await send('/identity/setup', bob, `{"connectionType":"DESKTOP","identity":"${ALICE}","identity":"${BOB}"}`);
      expect([200, 400]).toContain(result.status);
      if (result.status === 400) return expectError(result, 400);
      const sessions = await gateway.app.get(SessionStore).listByUser('bob');
      expect(sessions.map((s) => s.identity)).toEqual([BOB]);
    });

    it('stores the subscription it answers when subscribeAll is repeated', async () => {
      const path = `/identity/${encodeURIComponent(ALICE)}/eventSubscription`;
      const result = await send(path, alice, '{"subscribeAll":true,"subscribeAll":false,"events":["CallCleared"]}');
      expect([200, 400]).toContain(result.status);
      if (result.status === 400) return expectError(result, 400);
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toEqual(result.body);
    });

    const numbers = ['1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '0.1e1', '1E2'];
    it.each(numbers)('answers 400 to subscribeAll %s', async (number) => {
      const path = `/identity/${encodeURIComponent(ALICE)}/eventSubscription`;
      expectError(await send(path, alice, `{"subscribeAll":${number}}`), 400, /subscribeAll must be a boolean/);
    });

    it.each(numbers)('answers 400 to a connectionType or holdUpMode of %s', async (number) => {
      expectError(await send('/identity/setup', alice, `{"connectionType":${number},"identity":"${ALICE}"}`), 400);
      expectError(await send('/identity/setup', alice, `{"connectionType":"MOBILE","identity":"${ALICE}","holdUpMode":${number}}`), 400);
    });

    it.each(numbers)('accepts or refuses, never fails on, %s in the data of an event', async (number) => {
      const result = await send('/events', platform, `{"event":"CallCleared","identity":"${ALICE}","data":{"n":${number},"m":[${number}]}}`);
      expect([202, 400]).toContain(result.status);
      if (result.status === 202) expect(result.body).toEqual({ accepted: 1 });
      else expectError(result, 400);
    });

    it.each([
      ['an escaped NUL in the identity', 403, `{"connectionType":"WEB","identity":"${ALICE}\\u0000"}`],
      ['an escaped NUL in the connectionType', 400, `{"connectionType":"WEB\\u0000","identity":"${ALICE}"}`],
      ['a raw NUL byte in a string (not JSON)', 400, `{"connectionType":"WEB","identity":"${ALICE}\u0000"}`],
      ['a lone surrogate in the identity', 400, `{"connectionType":"WEB","identity":"\\ud800${ALICE}"}`],
      ['a NUL key', 400, `{"connectionType":"WEB","identity":"${ALICE}","\\u0000":1}`],
      ['an empty key', 400, `{"connectionType":"WEB","identity":"${ALICE}","":1}`],
      ['a trailing comma', 400, `{"connectionType":"WEB","identity":"${ALICE}",}`],
      ['single quotes', 400, `{'connectionType':'WEB','identity':'${ALICE}'}`],
      ['a comment', 400, `{"connectionType":"WEB",/* x */"identity":"${ALICE}"}`],
      ['NaN', 400, `{"connectionType":"WEB","identity":"${ALICE}","holdUpMode":NaN}`],
      ['two JSON documents', 400, `{"connectionType":"WEB","identity":"${ALICE}"}{"a":1}`],
      ['a bare string', 400, `"${ALICE}"`],
      ['null', 400, 'null'],
      ['an empty body', 400, ''],
      ['whitespace only', 400, ' \r\n\t '],
      ['invalid UTF-8 bytes (JSON is UTF-8)', 400, Buffer.concat([Buffer.from('{"connectionType":"WEB","identity":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ] as Array<[string, number, string | Buffer]>)('setup with %s answers %i', async (_what, status, body) => {
      expectError(await send('/identity/setup', alice, body), status);
    });

    it.each([
      ['a NUL in the event name', 400, `{"event":"CallCleared\\u0000","identity":"${ALICE}"}`],
      ['a NUL in the identity', 400, `{"event":"CallCleared","identity":"${ALICE}\\u0000"}`],
      ['an identity with a line break', 400, `{"event":"CallCleared","identity":"${ALICE}\\n"}`],
      ['NUL bytes in the data', 202, `{"event":"CallCleared","identity":"${ALICE}","data":{"x":"a\\u0000b"}}`],
      ['an empty batch', 400, '[]'],
      ['a batch of 501', 400, `[${Array(501).fill(`{"event":"CallCleared","identity":"${ALICE}"}`).join(',')}]`],
      ['a nested batch', 400, `[[{"event":"CallCleared","identity":"${ALICE}"}]]`],
      ['an occurredAt that Date would take', 400, `{"event":"CallCleared","identity":"${ALICE}","occurredAt":"1"}`],
      ['an occurredAt far out of range', 400, `{"event":"CallCleared","identity":"${ALICE}","occurredAt":"999999-01-01T00:00:00Z"}`],
      ['an occurredAt of 30 February', 400, `{"event":"CallCleared","identity":"${ALICE}","occurredAt":"2026-02-30T00:00:00Z"}`],
    ] as Array<[string, number, string]>)('POST /events with %s answers %i', async (_what, status, body) => {
      const result = await send('/events', platform, body);
      if (status === 202) {
        expect(result.status).toBe(202);
        expect(result.body).toEqual({ accepted: 1 });
      } else {
        expectError(result, status);
      }
    });
  });

  describe('content types', () => {
    const types: Array<[string, string | undefined, string]> = [
      ['text/plain', 'text/plain', '{"connectionType":"WEB"}'],
      ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded', 'connectionType=WEB&identity=%2B905321110001'],
      ['multipart/form-data', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="identity"\r\n\r\n+905321110001\r\n--x--\r\n'],
      ['text/json', 'text/json', '{"connectionType":"WEB"}'],
      ['application/xml', 'application/xml', '<setup/>'],
      ['application/json-patch+json', 'application/json-patch+json', '[]'],
      ['application/jsonx', 'application/jsonx', '{}'],
      ['no content type', undefined, '{"connectionType":"WEB"}'],
      ['an empty content type', '', '{"connectionType":"WEB"}'],
    ];

    describe.each(ROUTES)('%s', (name) => {
      it.each(types)('refuses %s with 415 (or 400) and the error body', async (_what, contentType, body) => {
        const [, path, token] = route(name);
        const result = await send(path, token(), body, contentType);
        expect([400, 415]).toContain(result.status);
        expectError(result, result.status);
        if (result.status === 415) expect(result.body.message).toBe('the request body must be application/json');
      });
    });

    it('takes application/json with parameters and in any case', async () => {
      for (const contentType of ['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8']) {
        const result = await send('/events', platform, `{"event":"CallCleared","identity":"${ALICE}"}`, contentType);
        expect(result.status).toBe(202);
      }
    });
  });

  describe('HTTP framing (request smuggling and malformed requests, on a bare TCP socket)', () => {
    const smuggled = 'GET /health/liveness HTTP/1.1\r\nHost: x\r\n\r\n';
    const framing: Array<[string, string]> = [
      ['Content-Length and Transfer-Encoding together (CL.TE)', `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`],
      ['two different Content-Length headers', `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}${smuggled}`],
      ['an obfuscated Transfer-Encoding', `POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${smuggled}`],
      ['a Transfer-Encoding list not ending in chunked', `POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`],
      ['a space before the colon of Content-Length', `POST /events HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\n{}${smuggled}`],
      ['a NUL byte in a header value', `GET /health/liveness HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n${smuggled}`],
      ['an unknown HTTP version', `GET /health/liveness HTTP/9.9\r\nHost: x\r\n\r\n${smuggled}`],
      ['a TLS ClientHello on the plain port', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003'],
    ];

    it.each(framing)('answers %s with one 400 and closes the connection, never serving what was smuggled behind it', async (_what, bytes) => {
      const answer = await rawExchange(gateway, bytes);
      expect(answer.statuses).toEqual([400]);
      expect(answer.closed).toBe(true);
    });

    it('answers malformed requests with the seed error body', async () => {
      for (const [, bytes] of framing) {
        const answer = await rawExchange(gateway, bytes);
        expect(isErrorBody(answer.body, 400)).toBe(true);
      }
    });
  });

  it('is still live and serving after every body above', async () => {
    await expectLive(gateway);
    const result: HttpResult = await http(`${gateway.url}/identity`, { token: alice });
    expect(result.status).toBe(200);
    expect(isErrorBody(result.body, 200)).toBe(false);
  });
});
