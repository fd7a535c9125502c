import Redis from 'ioredis';
import { rawRequest } from './attack/attack-kit';
import { ALICE } from './support/fixtures';
import { expectError, http, TestSocket, useGateway, useRedis } from './support/harness';

const LONE_SURROGATE = 'the request body holds a string that is not well-formed Unicode (a lone surrogate such as \\ud800)';
const BAD_PATH = 'a path parameter is not valid percent-encoded UTF-8';
const BAD_QUERY = 'the query string is not valid percent-encoded UTF-8';

/**
 * Request strings that are not well-formed Unicode are refused at the edge
 * with 400 (SPEC section 2): a lone surrogate cannot be written as UTF-8, and
 * would break Redis keys, Lua's JSON and log lines further in. The rate
 * limits stay on around such requests, in memory and through Redis.
 */
describe.each(['memory', 'redis'] as const)('well-formed request strings (STORE=%s)', (store) => {
  const redis = store === 'redis' ? useRedis() : undefined;
  const { issuer, gateway } = useGateway(() => ({
    RATE_LIMIT_PER_MINUTE: '1000',
    INGRESS_RATE_LIMIT_PER_MINUTE: '1000',
    ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
  }));
  let alice: string;
  let platform: string;

  const send = (path: string, token: string, body: string | Buffer) =>
    rawRequest(gateway, path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
  const subscription = `/identity/${encodeURIComponent(ALICE)}/eventSubscription`;

  beforeAll(async () => {
    alice = await issuer.sign({ sub: 'alice' });
    platform = await issuer.sign({ sub: 'telephony-core', scope: 'vora:events:publish' });
    expect((await http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType: 'WEB', identity: ALICE } })).status).toBe(200);
  });

  describe('JSON bodies', () => {
    it.each([
      ['a lone high surrogate in a value', '/identity/setup', `{"connectionType":"WEB","identity":"\\ud800${ALICE}"}`],
      ['a lone low surrogate in a value', '/identity/setup', `{"connectionType":"WEB","identity":"${ALICE}\\uDC00"}`],
      ['a lone surrogate in a key', '/identity/setup', `{"connectionType":"WEB","identity":"${ALICE}","\\ud800":1}`],
      ['a reversed pair', subscription, '{"subscribeAll":false,"events":["CallCleared\\udc00\\ud800"]}'],
      ['a lone surrogate in a list', subscription, '{"subscribeAll":false,"events":["CallCleared","\\udbff"]}'],
      ['a lone surrogate deep in event data', '/events', `{"event":"CallCleared","identity":"${ALICE}","data":{"a":[{"b":{"c":"x\\ud800"}}]}}`],
      ['a lone surrogate in one event of a batch', '/events', `[{"event":"CallCleared","identity":"${ALICE}"},{"event":"CallCleared","identity":"${ALICE}","data":{"\\udfff":1}}]`],
    ])('refuses %s with 400', async (_what, path, body) => {
      expectError(await send(path, path === '/events' ? platform : alice, body), 400, LONE_SURROGATE);
    });

    it('takes a surrogate pair (one code point) and an escaped backslash before "ud800"', async () => {
      const result = await send('/events', platform, `{"event":"CallCleared","identity":"${ALICE}","data":{"emoji":"\\ud83d\\ude00","text":"\\\\ud800"}}`);
      expect(result.status).toBe(202);
      expect(result.body).toEqual({ accepted: 1 });
    });

    it('refuses bytes that are not UTF-8 with 400', async () => {
      const body = Buffer.concat([Buffer.from(`{"connectionType":"WEB","identity":"${ALICE}`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
      expectError(await send('/identity/setup', alice, body), 400, 'the request body is not valid UTF-8');
    });
  });

  describe('path parameters', () => {
    it.each([
      ['an encoded surrogate', `/logout/%ED%A0%80${encodeURIComponent(ALICE)}`],
      ['an encoded surrogate in eventSubscription', `/identity/%2B905321110001%ED%B0%80/eventSubscription`],
    ])('refuses %s with 400', async (_what, path) => {
      expectError(await send(path, alice, '{"subscribeAll":true}'), 400, BAD_PATH);
    });
  });

  describe('query values', () => {
    it.each([
      ['an encoded surrogate in a value', '/identity?x=%ED%A0%80'],
      ['an encoded surrogate in a key', '/identity?%ED%A0%80=1'],
      ['a byte that is not UTF-8', '/identity?x=%FF'],
      ['a stray percent sign', '/identity?x=100%'],
      ['an encoded surrogate in a GET /ws without upgrade', '/ws?token=%ED%A0%80'],
    ])('refuses %s with 400', async (_what, path) => {
      expectError(await rawRequest(gateway, path, { headers: { authorization: `Bearer ${alice}` } }), 400, BAD_QUERY);
    });

    it('refuses a WebSocket handshake with an encoded surrogate in its query with 400, before the upgrade', async () => {
      const refusal = await TestSocket.refused(gateway, { query: 'token=%ED%A0%80' });
      expect(refusal.status).toBe(400);
      expect(refusal.body).toEqual({ timestamp: expect.any(String), status: '400', error: 'Bad Request', message: BAD_QUERY });
    });

    it('still takes well-formed encoded values', async () => {
      const result = await http(`${gateway.url}/identity?note=%E2%9C%93%F0%9F%98%80`, { token: alice });
      expect(result.status).toBe(200);
    });
  });

  describe('rate limits around refused strings', () => {
    const { gateway: limited } = useGateway(
      () => ({ RATE_LIMIT_PER_MINUTE: '3', INGRESS_RATE_LIMIT_PER_MINUTE: '2', ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}) }),
      { issuer },
    );

    it('stay enforced: refused requests are answered before they cost anything, and the caller gets exactly its limit', async () => {
      const bob = await issuer.sign({ sub: 'bob' });
      const core = await issuer.sign({ sub: 'core-2', scope: 'vora:events:publish' });
      const post = (path: string, token: string, body: string) =>
        rawRequest(limited, path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      for (let i = 0; i < 5; i++) {
        expectError(await post('/identity/setup', bob, `{"connectionType":"WEB","identity":"\\ud800"}`), 400, LONE_SURROGATE);
        expectError(await rawRequest(limited, '/identity?x=%ED%A0%80', { headers: { authorization: `Bearer ${bob}` } }), 400, BAD_QUERY);
        expectError(await post('/events', core, `{"event":"CallCleared","identity":"${ALICE}","data":{"x":"\\ud800"}}`), 400, LONE_SURROGATE);
      }
      for (let i = 0; i < 3; i++) expect((await http(`${limited.url}/identity`, { token: bob })).status).toBe(200);
      expectError(await http(`${limited.url}/identity`, { token: bob }), 429, /at most 3 requests per minute/);
      const event = { event: 'CallCleared', identity: ALICE };
      expect((await http(`${limited.url}/events`, { token: core, body: [event, event] })).status).toBe(202);
      expectError(await http(`${limited.url}/events`, { token: core, body: event }), 429, /at most 2 events per minute/);

      if (redis) {
        const client = new Redis(redis.url);
        try {
          expect(await client.get('vora:rl:{bob}:api')).toBe('3');
          expect(await client.get('vora:rl:{core-2}:ingress')).toBe('2');
        } finally {
          client.disconnect();
        }
      }
    });
  });
});
