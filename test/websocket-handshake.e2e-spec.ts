import { Socket } from 'node:net';
import { PendingCallStore } from '../src/holdup/pending-calls.store';
import { SessionStore } from '../src/session/session.store';
import { ClientConnection } from '../src/gateway/client-connection';
import { SocketRegistry } from '../src/gateway/socket-registry';
import { expectError, http, HttpResult, RunningGateway, startGateway } from './support/gateway';
import { startRedis, TestRedis } from './support/redis-server';
import { TestIssuer } from './support/test-issuer';
import { eventually } from './support/eventually';
import { openSession, publishAccepted, Refusal, setupSession, TestSocket } from './support/ws-client';

const ALICE = '+905321110001';
const BOB = '+905321110002';
const ORIGIN = 'https://console.vora.example';

/** A refused upgrade as an HttpResult, to assert the error body like any other route's. */
const asHttp = (refusal: Refusal): HttpResult => ({
  status: refusal.status,
  headers: new Headers(refusal.headers as Record<string, string>),
  body: refusal.body,
});

describe('WebSocket protocol', () => {
  let issuer: TestIssuer;
  let platform: string;
  const sockets: TestSocket[] = [];
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });
  const track = <T extends { socket: TestSocket }>(opened: T): T => {
    sockets.push(opened.socket);
    return opened;
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });
  afterAll(() => issuer.close());
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });

  describe('with WS_ALLOWED_ORIGINS, WS_MAX_PAYLOAD_BYTES=1024 and HEARTBEAT_INTERVAL_MS=200', () => {
    let gateway: RunningGateway;
    beforeAll(async () => {
      gateway = await startGateway({
        ...issuer.env(),
        WS_ALLOWED_ORIGINS: `${ORIGIN}, https://other.vora.example`,
        WS_MAX_PAYLOAD_BYTES: '1024',
        HEARTBEAT_INTERVAL_MS: '200',
      });
    });
    afterAll(() => gateway.close());
    afterEach(async () => {
      const store = gateway.app.get(SessionStore);
      for (const session of await store.listByUser('alice')) await store.remove(session.id);
    });
    const aliceToken = async () => setupSession(gateway, await user('alice'), { identity: ALICE });

    describe('handshake', () => {
      it('refuses no token with 401 and WWW-Authenticate, before the upgrade', async () => {
        const refusal = await TestSocket.refused(gateway);
        expectError(asHttp(refusal), 401, 'a webSocketToken from /identity/setup is required');
        expect(refusal.body.message).toBe('a webSocketToken from /identity/setup is required');
        expect(refusal.headers['www-authenticate']).toBe('Bearer realm="vora"');
      });

      it('refuses an unknown token with 401, in the query or in the header', async () => {
        const message = 'the webSocketToken is unknown, revoked or expired';
        for (const tokenInHeader of [false, true]) {
          const refusal = await TestSocket.refused(gateway, { token: 'A'.repeat(43), tokenInHeader });
          expectError(asHttp(refusal), 401);
          expect(refusal.body.message).toBe(message);
          expect(refusal.headers['www-authenticate']).toBe('Bearer realm="vora"');
        }
      });

      it('refuses a token in the header and the query with 400', async () => {
        const token = await aliceToken();
        const refusal = await TestSocket.refused(gateway, { token, headers: { authorization: `Bearer ${token}` } });
        expectError(asHttp(refusal), 400);
        expect(refusal.body.message).toBe('send the webSocketToken in one place only, not in the header and the query');
      });

      it.each(['abc', '-1', '1.5', '1e3', '', '1234567890123456'])('refuses lastEventId=%j with 400', async (lastEventId) => {
        const token = await aliceToken();
        const refusal = await TestSocket.refused(gateway, { token, query: `lastEventId=${encodeURIComponent(lastEventId)}` });
        expectError(asHttp(refusal), 400);
        expect(refusal.body.message).toBe('lastEventId must be the decimal id of an event received earlier');
      });

      it('refuses an Origin outside WS_ALLOWED_ORIGINS with 403', async () => {
        const token = await aliceToken();
        const refusal = await TestSocket.refused(gateway, { token, headers: { origin: 'https://evil.example' } });
        expectError(asHttp(refusal), 403);
        expect(refusal.body.message).toBe('origin https://evil.example may not open a socket');
      });

      it('accepts an allowed Origin and a request without Origin', async () => {
        const token = await aliceToken();
        const withOrigin = await TestSocket.connect(gateway, { token, headers: { origin: ORIGIN } });
        expect(withOrigin.welcome).toMatchObject({ type: 'welcome', identity: ALICE });
        await withOrigin.socket.close();
        const native = track(await TestSocket.connect(gateway, { token, tokenInHeader: true }));
        expect(native.welcome).toMatchObject({ type: 'welcome', identity: ALICE });
      });

      it('answers a plain HTTP GET /ws with 426', async () => {
        const result = await http(`${gateway.url}/ws`);
        expectError(result, 426, 'GET /ws is a WebSocket endpoint: send an Upgrade: websocket request');
        expect(result.headers.get('upgrade')).toBe('websocket');
      });
    });

    describe('client messages', () => {
      it('answers {"type":"ping"} with {"type":"pong"}', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        socket.send({ type: 'ping' });
        expect(await socket.next()).toEqual({ type: 'pong' });
      });

      it.each([
        ['invalid JSON', '{"type":', 'messages must be JSON objects'],
        ['a JSON array', '[1]', 'messages must be JSON objects'],
        ['an unknown type', { type: 'hello' }, 'unknown message type "hello"; expected ping, ready or decline'],
        ['no type', { callId: 'c-1' }, 'unknown message type null; expected ping, ready or decline'],
        ['ready without callId', { type: 'ready' }, 'ready needs a callId string'],
        ['decline with an empty callId', { type: 'decline', callId: '' }, 'decline needs a callId string'],
      ])('answers %s with an error message and keeps the socket open', async (_what, message, error) => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        socket.send(message);
        expect(await socket.next()).toEqual({ type: 'error', message: error });
        socket.send({ type: 'ping' });
        expect(await socket.next()).toEqual({ type: 'pong' });
        expect(socket.isClosed).toBe(false);
      });

      it('answers ready for a call that is not waiting with an error message', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        socket.send({ type: 'ready', callId: 'c-9' });
        expect(await socket.next()).toEqual({ type: 'error', message: 'call c-9 is not waiting for an answer from this session' });
      });

      it('closes with 1008 after more than 10 invalid messages within a minute', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        for (let i = 0; i < 11; i++) socket.send('garbage');
        for (let i = 0; i < 10; i++) expect(await socket.next()).toEqual({ type: 'error', message: 'messages must be JSON objects' });
        expect(await socket.closed()).toEqual({ code: 1008, reason: 'too many invalid messages' });
        expect(socket.pending()).toEqual([]);
      });

      it('closes with 1008 a client that sends faster than the message rate, once its burst is spent', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        for (let i = 0; i < 300; i++) socket.send({ type: 'ping' });
        expect(await socket.closed()).toEqual({ code: 1008, reason: 'too many messages; slow down' });
        const pongs = socket.received.filter((m) => m.type === 'pong').length;
        // WS_MESSAGE_BURST (100) is answered; 20 more a second would take 10 s to answer the rest.
        expect(pongs).toBeGreaterThanOrEqual(100);
        expect(pongs).toBeLessThan(300);
      });

      it('counts a close code the client chose as "other" in vora_socket_closes_total', async () => {
        const closesOf = async (code: string): Promise<number> => {
          const text: string = (await http(`${gateway.url}/metrics`)).body;
          return Number(text.match(new RegExp(`^vora_socket_closes_total\\{code="${code}"\\} (\\d+)$`, 'm'))?.[1] ?? 0);
        };
        const before = await closesOf('other');
        const { socket } = await TestSocket.connect(gateway, { token: await aliceToken() });
        socket.socket.close(4999, 'a code of my own');
        await socket.closed();
        await eventually(async () => (await closesOf('other')) === before + 1, { timeoutMs: 5_000, what: 'the close to be counted' });
        expect((await http(`${gateway.url}/metrics`)).body).not.toMatch(/code="4999"/);
      });

      it('closes with 1003 on a binary frame', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        socket.socket.send(Buffer.from('{"type":"ping"}'), { binary: true });
        expect(await socket.closed()).toEqual({ code: 1003, reason: 'binary frames are not supported' });
      });

      it('closes with 1009 on a frame over WS_MAX_PAYLOAD_BYTES, and keeps serving others', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        socket.send({ type: 'ping', padding: 'x'.repeat(1024) });
        expect((await socket.closed()).code).toBe(1009);
        const bob = track(await openSession(gateway, await user('bob'), { identity: BOB }));
        bob.socket.send({ type: 'ping' });
        expect(await bob.socket.next()).toEqual({ type: 'pong' });
      });

      it('closes with 1007 on a text frame that is not UTF-8, and keeps serving others', async () => {
        const { socket } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        socket.socket.send(Buffer.from([0xff, 0xfe, 0xfd]), { binary: false });
        expect((await socket.closed()).code).toBe(1007);
        const bob = track(await openSession(gateway, await user('bob'), { identity: BOB }));
        bob.socket.send({ type: 'ping' });
        expect(await bob.socket.next()).toEqual({ type: 'pong' });
      });
    });

    describe('heartbeat', () => {
      // The spacing of the pings, one per socket and interval, is checked with fake timers in socket-registry.spec.ts.
      it('sends protocol pings, and keeps a client that answers them', async () => {
        const { socket, welcome } = track(await TestSocket.connect(gateway, { token: await aliceToken() }));
        expect(welcome.heartbeatIntervalMs).toBe(200);
        let pings = 0;
        socket.socket.on('ping', () => pings++);
        await eventually(() => pings >= 4, { timeoutMs: 5_000, what: '4 pings' });
        expect(socket.isClosed).toBe(false);
        socket.send({ type: 'ping' });
        expect(await socket.next()).toEqual({ type: 'pong' });
      });

      it('terminates a client that does not answer pings (1006 on the client)', async () => {
        const token = await aliceToken();
        const silent = await TestSocket.openWith(gateway, { token }, { autoPong: false });
        sockets.push(silent);
        expect(await silent.next()).toMatchObject({ type: 'welcome' });
        expect(await silent.closed(3_000)).toEqual({ code: 1006, reason: '' });
        // Its session lives on: the client may reconnect and resume.
        const again = track(await TestSocket.connect(gateway, { token }));
        expect(again.welcome).toMatchObject({ type: 'welcome', identity: ALICE });
      });
    });
  });

  describe('slow consumer, with WS_MAX_BUFFERED_BYTES=65536', () => {
    let gateway: RunningGateway;
    beforeAll(async () => {
      gateway = await startGateway({ ...issuer.env(), WS_MAX_BUFFERED_BYTES: '65536', EVENT_BUFFER_SIZE: '10000' });
    });
    afterAll(() => gateway.close());

    it('closes a client that stops reading with 4008 while others keep receiving; its events stay buffered', async () => {
      const slow = await openSession(gateway, await user('alice'), { identity: ALICE });
      const steady = track(await openSession(gateway, await user('bob'), { identity: BOB }));
      const registry = gateway.app.get(SocketRegistry) as unknown as { connections: Map<string, ClientConnection> };
      const slowServerSide = registry.connections.get(slow.welcome.sessionId)!;
      expect(slowServerSide.isOpen).toBe(true);

      slow.socket.pauseReading();
      const blob = 'x'.repeat(8 * 1024);
      let aliceCount = 0;
      let bobCount = 0;
      for (let batch = 0; batch < 60 && slowServerSide.isOpen; batch++) {
        const events = [];
        for (let i = 0; i < 100; i++) events.push({ event: 'CallHeld', identity: ALICE, data: { seq: ++aliceCount, blob } });
        for (let i = 0; i < 5; i++) events.push({ event: 'CallHeld', identity: BOB, data: { seq: ++bobCount } });
        await publishAccepted(gateway, platform, events);
        // The steady client reads everything of each batch before the next one.
        const received = await steady.socket.events(5);
        expect(received.map((e) => e.id)).toEqual(received.map((e) => String(e.data.seq)));
      }
      expect(slowServerSide.isOpen).toBe(false);
      expect(bobCount).toBe(aliceCount / 20);

      slow.socket.resumeReading();
      expect(await slow.socket.closed(10_000)).toEqual({ code: 4008, reason: 'too slow; reconnect with lastEventId' });
      const seen = slow.socket.received.filter((m) => m.type === 'event');
      expect(seen.map((e) => e.id)).toEqual(seen.map((_e, i) => String(i + 1)));
      const lastSeen = seen.length;
      expect(lastSeen).toBeLessThan(aliceCount);

      // Resume from the last event seen: the rest follows, contiguous up to the newest.
      const resumed = track(await TestSocket.connect(gateway, { token: slow.token, lastEventId: lastSeen }));
      expect(resumed.welcome).toMatchObject({ lastEventId: String(aliceCount), recovered: true });
      const rest = await resumed.socket.events(aliceCount - lastSeen);
      expect(rest.map((e) => Number(e.id))).toEqual(Array.from({ length: aliceCount - lastSeen }, (_, i) => lastSeen + 1 + i));
      expect(rest.map((e) => e.data.seq)).toEqual(rest.map((e) => Number(e.id)));
    });
  });

  describe('a client that sends pings and does not read, with WS_MAX_BUFFERED_BYTES=65536 and no message rate to speak of', () => {
    const LIMIT = 65_536;
    let gateway: RunningGateway;
    beforeAll(async () => {
      gateway = await startGateway({
        ...issuer.env(),
        WS_MAX_BUFFERED_BYTES: String(LIMIT),
        WS_MESSAGE_BURST: '1000000',
        WS_MESSAGES_PER_SECOND: '1000000',
      });
    });
    afterAll(() => gateway.close());

    it('is closed with 4008, and the gateway never holds more than the limit of pongs for it', async () => {
      const opened = await openSession(gateway, await user('alice'), { identity: ALICE });
      const registry = gateway.app.get(SocketRegistry) as unknown as { connections: Map<string, ClientConnection> };
      const serverSide = registry.connections.get(opened.welcome.sessionId)!;
      opened.socket.pauseReading();
      // {"type":"ping"} in masked frames (a zero mask leaves the payload as it is), 10,000 to a write.
      const ping = Buffer.concat([Buffer.from([0x81, 0x80 | 15, 0, 0, 0, 0]), Buffer.from('{"type":"ping"}')]);
      const flood = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
      const tcp = (opened.socket.socket as unknown as { _socket: Socket })._socket;
      const send = () => new Promise<void>((resolve) => tcp.write(flood, () => setImmediate(resolve)));
      let queued = 0;
      for (let sent = 0; serverSide.isOpen && sent < 2_000_000; sent += 10_000) {
        await send();
        queued = Math.max(queued, serverSide.unsentBytes);
      }
      expect(serverSide.isOpen).toBe(false);
      // At most the limit, one pong and the close frame.
      expect(queued).toBeLessThanOrEqual(LIMIT + 64);
      // Pings after the close are not answered: nothing more is queued.
      for (let i = 0; i < 10; i++) await send();
      expect(serverSide.unsentBytes).toBeLessThanOrEqual(LIMIT + 64);

      opened.socket.resumeReading();
      expect(await opened.socket.closed(30_000)).toEqual({ code: 4008, reason: 'too slow; reconnect with lastEventId' });
    });
  });

  describe.each([['memory'], ['redis']])('answers for calls that are not waiting (%s)', (store) => {
    let redis: TestRedis | undefined;
    let gateway: RunningGateway;
    beforeAll(async () => {
      if (store === 'redis') redis = await startRedis();
      gateway = await startGateway({
        ...issuer.env(),
        WS_MESSAGE_BURST: '1000000',
        WS_MESSAGES_PER_SECOND: '1000000',
        ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
      });
    });
    afterAll(async () => {
      await gateway?.close();
      await redis?.close();
    });

    it('count as invalid messages: 5,000 of them cost at most 10 store reads, and the client is closed with 1008', async () => {
      const reads = jest.spyOn(gateway.app.get(PendingCallStore), 'get');
      const { socket } = track(await openSession(gateway, await user('alice'), { identity: ALICE }));
      for (let i = 0; i < 5_000; i++) socket.send({ type: i % 2 ? 'ready' : 'decline', callId: `c-${i}` });
      expect(await socket.closed()).toEqual({ code: 1008, reason: 'too many invalid messages' });
      expect(reads.mock.calls.length).toBeGreaterThan(0);
      expect(reads.mock.calls.length).toBeLessThanOrEqual(10);
      const errors = socket.received.filter((m) => m.type === 'error');
      expect(errors.length).toBeLessThanOrEqual(10);
      for (const error of errors) expect(error.message).toMatch(/^call c-\d+ is not waiting for an answer from this session$/);
    });
  });
});
