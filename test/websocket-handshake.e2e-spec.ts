import { SessionStore } from '../src/session/session.store';
import { ALICE, BOB, ORIGIN } from './support/fixtures';
import { asHttp, eventually, expectError, http, openSession, setupSession, TestSocket, useGateway, useIssuer, useSockets } from './support/harness';

describe('WebSocket protocol', () => {
  const issuer = useIssuer();
  let platform: string;
  const { sockets, track } = useSockets();
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });

  describe('with WS_ALLOWED_ORIGINS, WS_MAX_PAYLOAD_BYTES=1024 and HEARTBEAT_INTERVAL_MS=200', () => {
    const { gateway } = useGateway(
      { WS_ALLOWED_ORIGINS: `${ORIGIN}, https://other.vora.example`, WS_MAX_PAYLOAD_BYTES: '1024', HEARTBEAT_INTERVAL_MS: '200' },
      { issuer },
    );
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
});
