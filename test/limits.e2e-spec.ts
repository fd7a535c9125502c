import { connect, Socket } from 'node:net';
import { rawRequest } from './attack/attack-kit';
import { ALICE, BOB, CAROL, REMOTE_PARTY } from './support/fixtures';
import { eventually, expectError, faultTestsUnsupported, http, HttpResult, LogCapture, Refusal, RunningGateway, setupSession, startGateway, TestSocket, useGateway, useIssuer, useRedis, useRedisCluster } from './support/harness';

const call = (identity: string) => ({
  event: 'CallDelivered',
  identity,
  data: { callId: 'c-1', direction: 'terminating', remoteParty: REMOTE_PARTY },
});
const batch = (size: number) => Array.from({ length: size }, () => call(ALICE));

/** Retry-After must be a whole number of seconds within one window. */
function expectRetryAfter(value: string | null | undefined): void {
  expect(value).toMatch(/^[0-9]+$/);
  expect(Number(value)).toBeGreaterThanOrEqual(1);
  expect(Number(value)).toBeLessThanOrEqual(60);
}

function expectTooMany(result: HttpResult, message?: RegExp): void {
  expectError(result, 429, message);
  expectRetryAfter(result.headers.get('retry-after'));
}

/** A refused upgrade answers like any route: the seed error body, here with Retry-After. */
function expectRefusedTooMany(refusal: Refusal, message: RegExp): void {
  expect(refusal.status).toBe(429);
  expect(refusal.headers['content-type']).toMatch(/^application\/json/);
  expect(refusal.body).toEqual({ timestamp: expect.any(String), status: '429', error: 'Too Many Requests', message: expect.stringMatching(message) });
  expect(refusal.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
}

describe('limits', () => {
  const issuer = useIssuer();
  const token = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope, expiresInS: 3600 });
  const identity = async (gateway: RunningGateway, sub: string) => http(`${gateway.url}/identity`, { token: await token(sub) });

  describe('per-caller rate limits (memory store)', () => {
    const { gateway } = useGateway({ RATE_LIMIT_PER_MINUTE: '5', INGRESS_RATE_LIMIT_PER_MINUTE: '10' }, { issuer });
    let platform: string;
    const publish = (events: unknown) => http(`${gateway.url}/events`, { token: platform, body: events });

    beforeAll(async () => {
      platform = await token('core', 'vora:events:publish');
    });

    it('answers the caller 429 with the error body and Retry-After past RATE_LIMIT_PER_MINUTE, and no one else', async () => {
      for (let i = 0; i < 5; i++) expect((await identity(gateway, 'alice')).status).toBe(200);
      expectTooMany(await identity(gateway, 'alice'), /rate limit exceeded: at most 5 requests per minute/);
      // Every client endpoint shares the caller's budget.
      expectTooMany(await http(`${gateway.url}/identity/setup`, { token: await token('alice'), body: { connectionType: 'WEB', identity: ALICE } }));

      expect((await identity(gateway, 'bob')).status).toBe(200);
      // Authentication comes first: a request without a token is not counted against anyone, and learns it needs one.
      expectError(await http(`${gateway.url}/identity`), 401);
    });

    it('never limits the probes, the OpenAPI document, /metrics or CORS preflights', async () => {
      for (let i = 0; i < 12; i++) {
        expect((await http(`${gateway.url}/health/liveness`)).status).toBe(204);
        expect((await http(`${gateway.url}/health/readiness`)).status).toBe(204);
        expect((await http(`${gateway.url}/identity`, { method: 'OPTIONS' })).status).toBe(200);
        expect((await http(`${gateway.url}/docs-json`)).status).toBe(200);
        expect((await http(`${gateway.url}/metrics`)).status).not.toBe(429);
      }
    });

    it('counts the events of POST /events: a batch of n costs n, and a refused batch costs nothing', async () => {
      expect((await publish(batch(8))).status).toBe(202);
      expectTooMany(await publish(batch(3)), /at most 10 events per minute/);
      expect(await publish(batch(2))).toMatchObject({ status: 202, body: { accepted: 2 } });
      expectTooMany(await publish(call(ALICE)));
      // The ingress budget is its own: the platform's limit says nothing of a user's.
      expect((await identity(gateway, 'carol')).status).toBe(200);
    });

    it('refuses a batch larger than the whole per-minute budget, saying so', async () => {
      const other = await token('core-2', 'vora:events:publish');
      const result = await http(`${gateway.url}/events`, { token: other, body: batch(11) });
      expectTooMany(result, /a batch of 11 events is more than the 10 events per minute/);
    });
  });

  describe.each(['redis', 'redis cluster'] as const)('per-caller rate limits shared through %s', (topology) => {
    const single = topology === 'redis' ? useRedis() : undefined;
    const redis = single ?? useRedisCluster();
    const { gateway: a } = useGateway(() => ({ ...redis.env(), RATE_LIMIT_PER_MINUTE: '5' }), { issuer });
    const { gateway: b } = useGateway(() => ({ ...redis.env(), RATE_LIMIT_PER_MINUTE: '5' }), { issuer });

    it('gives a caller spread over two instances the limit once, not twice', async () => {
      for (let i = 0; i < 3; i++) expect((await identity(a, 'alice')).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await identity(b, 'alice')).status).toBe(200);
      expectTooMany(await identity(b, 'alice'));
      expectTooMany(await identity(a, 'alice'));
      expect((await identity(a, 'bob')).status).toBe(200);

      // One counter per caller and bucket, gone with its window.
      const client = redis.client();
      try {
        expect(await client.get('vora:rl:{alice}:api')).toBe('5');
        const ttl = await client.pttl('vora:rl:{alice}:api');
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      } finally {
        client.disconnect();
      }
    });

    if (single) it('lets requests through while Redis is down (fail open), and enforces the limit again once it is back', async () => {
      const redis = single;
      const skip = faultTestsUnsupported(redis);
      if (skip) return console.warn(`Redis stop/start test ${skip}`);
      for (let i = 0; i < 5; i++) expect((await identity(b, 'carol')).status).toBe(200);
      expectTooMany(await identity(a, 'carol'));

      await redis.stop();
      // GET /identity needs no Redis: a limiter that cannot count is no reason to refuse it.
      for (let i = 0; i < 7; i++) {
        expect((await identity(a, 'carol')).status).toBe(200);
        expect((await identity(b, 'carol')).status).toBe(200);
      }

      await redis.start();
      for (const gateway of [a, b]) {
        await eventually(async () => expect((await http(`${gateway.url}/health/readiness`)).status).toBe(204), {
          timeoutMs: 20_000,
          intervalMs: 100,
        });
      }
      // The restarted Redis is empty: a fresh window, counted again.
      for (let i = 0; i < 5; i++) expect((await identity(i % 2 ? a : b, 'dave')).status).toBe(200);
      expectTooMany(await identity(a, 'dave'));
    });
  });

  describe('caps on live sockets', () => {
    let gateway: RunningGateway;
    const sockets: TestSocket[] = [];
    const open = async (wsToken: string) => {
      const socket = (await TestSocket.connect(gateway, { token: wsToken })).socket;
      sockets.push(socket);
      return socket;
    };
    const setup = async (sub: string, identityNumber: string, connectionType = 'WEB') =>
      setupSession(gateway, await token(sub), { identity: identityNumber, connectionType });

    afterEach(async () => {
      await Promise.all(sockets.splice(0).map((socket) => socket.close()));
      await gateway.close();
    });

    it('refuses a user a socket for a third session with MAX_SOCKETS_PER_USER=2, before the upgrade', async () => {
      gateway = await startGateway({ ...issuer.env(), MAX_SOCKETS_PER_USER: '2' });
      const [web, desktop, mobile] = [await setup('alice', ALICE, 'WEB'), await setup('alice', ALICE, 'DESKTOP'), await setup('alice', ALICE, 'MOBILE')];
      const first = await open(web);
      const second = await open(desktop);
      expectRefusedTooMany(await TestSocket.refused(gateway, { token: mobile }), /this account already holds 2 sockets/);
      // Another user is not affected.
      await open(await setup('bob', BOB));

      // Reconnecting a session replaces its socket: it does not count twice.
      const replacement = await open(web);
      expect((await first.closed()).code).toBe(4002);
      expectRefusedTooMany(await TestSocket.refused(gateway, { token: mobile }), /this account/);

      // Once a socket is gone, its place is free.
      await second.close();
      await eventually(async () => sockets.push((await TestSocket.connect(gateway, { token: mobile })).socket));
      expect(replacement.isClosed).toBe(false);
    });

    it('refuses a client address its third socket across users with MAX_SOCKETS_PER_IP=2', async () => {
      gateway = await startGateway({ ...issuer.env(), MAX_SOCKETS_PER_IP: '2' });
      const alice = await open(await setup('alice', ALICE));
      await open(await setup('bob', BOB));
      const carol = await setup('carol', CAROL);
      expectRefusedTooMany(await TestSocket.refused(gateway, { token: carol }), /this client address already holds 2 sockets/);

      await alice.close();
      await eventually(async () => sockets.push((await TestSocket.connect(gateway, { token: carol })).socket));
    });
  });

  describe('failed handshakes per client address', () => {
    let gateway: RunningGateway;
    const sockets: TestSocket[] = [];
    afterEach(async () => {
      await Promise.all(sockets.splice(0).map((socket) => socket.close()));
      await gateway.close();
    });

    it('refuses an address 429 with Retry-After after MAX_FAILED_HANDSHAKES_PER_IP handshakes without a valid token, before its token is looked at', async () => {
      gateway = await startGateway({ ...issuer.env(), MAX_FAILED_HANDSHAKES_PER_IP: '3', TRUST_PROXY: '127.0.0.1' });
      const valid = await setupSession(gateway, await token('alice'), { identity: ALICE });
      const from = (address: string) => ({ 'x-forwarded-for': address });
      for (const attempt of [{ token: 'guessed-1' }, { token: 'guessed-2' }, {}]) {
        const refusal = await TestSocket.refused(gateway, { ...attempt, headers: from('203.0.113.7') });
        expect(refusal.status).toBe(401);
      }
      // Past the limit even a valid token is refused: the address has to wait for its window to end.
      for (const attempt of [{ token: 'guessed-3' }, { token: valid }]) {
        expectRefusedTooMany(
          await TestSocket.refused(gateway, { ...attempt, headers: from('203.0.113.7') }),
          /^this client address made 3 handshakes without a valid webSocketToken within a minute; retry in [0-9]+ s$/,
        );
      }
      // Another client address is not affected, and a good handshake never counts.
      sockets.push((await TestSocket.connect(gateway, { token: valid, headers: from('203.0.113.8') })).socket);
      expect((await TestSocket.refused(gateway, { token: 'guessed-4', headers: from('203.0.113.8') })).status).toBe(401);
    });
  });

  describe('connections per instance', () => {
    let gateway: RunningGateway;
    const open: Socket[] = [];
    afterEach(async () => {
      for (const socket of open.splice(0)) socket.destroy();
      await gateway.close();
    });

    /** A kept-alive connection that has been answered once, so the server surely holds it. */
    const keptAlive = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1');
        open.push(socket);
        socket.once('error', reject);
        socket.once('connect', () => socket.write('GET /health/liveness HTTP/1.1\r\nHost: gateway\r\n\r\n'));
        socket.once('data', (chunk) => (chunk.toString().startsWith('HTTP/1.1 204') ? resolve(socket) : reject(new Error(chunk.toString()))));
      });

    /** What a new connection gets: the answer to one request, or nothing before it is closed. */
    const attempt = (): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1');
        open.push(socket);
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString()));
        socket.on('error', () => undefined);
        socket.once('connect', () => socket.write('GET /health/liveness HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n'));
        socket.once('close', () => resolve(received));
      });

    it('closes connections past MAX_CONNECTIONS at once, WebSockets counted, and takes new ones when one leaves', async () => {
      const logs = new LogCapture();
      gateway = await startGateway({ ...issuer.env(), MAX_CONNECTIONS: '2' }, { logStream: logs });
      // Set up on a connection that closes after the answer (fetch would keep one open in its pool).
      const setup = await rawRequest(gateway, '/identity/setup', {
        method: 'POST',
        headers: { authorization: `Bearer ${await token('alice')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ connectionType: 'WEB', identity: ALICE }),
      });
      expect(setup.status).toBe(200);
      const first = await keptAlive();
      const { socket: ws } = await eventually(() => TestSocket.connect(gateway, { token: setup.body.webSocketToken }));
      expect(await attempt()).toBe('');
      expect(await attempt()).toBe('');
      expect(ws.isClosed).toBe(false);
      // Reported once, not once per refused connection.
      expect(logs.records.filter((record) => record.context === 'Connections')).toEqual([
        expect.objectContaining({ level: 40, msg: 'refused 1 connection(s): this instance holds MAX_CONNECTIONS (2) already' }),
      ]);

      first.destroy();
      await eventually(async () => expect(await attempt()).toMatch(/^HTTP\/1\.1 204 /));
      await ws.close();
    });
  });
});
