import { connect, Socket } from 'node:net';
import { encodeFrame, FrameOptions, isErrorBody, Opcode, rawExchange, RawWsClient, within } from './attack-kit';
import { ALICE, BOB, CAROL, DAVE, OSCAR_FIXED, REMOTE_PARTY } from '../support/fixtures';
import { http, publish, Refusal, RunningGateway, setupSession, startGateway, TestSocket, useGateway } from '../support/harness';

/**
 * The WebSocket endpoint under attack: stolen or stale webSocketTokens,
 * lastEventId tricks, frames that break RFC 6455 written on a bare TCP
 * socket, and clients that hold connections open by sending slowly.
 */

const MAX_PAYLOAD = 4096;
const CONSOLE = 'https://console.vora.example';

const callEvent = (identity: string, callId: string) => ({
  event: 'CallDelivered',
  identity,
  data: { callId, direction: 'terminating', remoteParty: REMOTE_PARTY },
});

function expectRefused(refusal: Refusal, status: number, message: string | RegExp): void {
  expect(refusal.status).toBe(status);
  expect(String(refusal.headers['content-type'])).toMatch(/^application\/json/);
  expect(isErrorBody(refusal.body, status)).toBe(true);
  expect(refusal.body.message).toMatch(message);
  if (status === 401) expect(refusal.headers['www-authenticate']).toBe('Bearer realm="vora"');
}

describe('attack: the WebSocket endpoint', () => {
  const { issuer, gateway } = useGateway({
    WS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
    RATE_LIMIT_PER_MINUTE: '100000',
    MAX_SOCKETS_PER_USER: '1000',
    WS_ALLOWED_ORIGINS: CONSOLE,
  });
  let platform: string;
  const tokenOf = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'telephony-core', scope: 'vora:events:publish' });
  });

  describe('webSocketToken reuse', () => {
    it('refuses a token after logout with 401 before the upgrade, in the header and in the query', async () => {
      const token = await setupSession(gateway, await tokenOf('alice'), { identity: ALICE, connectionType: 'WEB' });
      const { socket } = await TestSocket.connect(gateway, { token });
      const logout = await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { token: await tokenOf('alice'), method: 'POST' });
      expect(logout.status).toBe(200);
      expect((await socket.closed()).code).toBe(4000);
      for (const tokenInHeader of [false, true]) {
        expectRefused(await TestSocket.refused(gateway, { token, tokenInHeader }), 401, 'the webSocketToken is unknown, revoked or expired');
      }
    });

    it('refuses the token of a session replaced by a new setup with the same key, and takes the new one', async () => {
      const accessToken = await tokenOf('alice');
      const first = await setupSession(gateway, accessToken, { identity: ALICE, connectionType: 'DESKTOP' });
      const { socket } = await TestSocket.connect(gateway, { token: first });
      const second = await setupSession(gateway, accessToken, { identity: ALICE, connectionType: 'DESKTOP' });
      expect((await socket.closed()).code).toBe(4002);
      expectRefused(await TestSocket.refused(gateway, { token: first }), 401, 'the webSocketToken is unknown, revoked or expired');
      const { socket: fresh, welcome } = await TestSocket.connect(gateway, { token: second });
      expect(welcome.identity).toBe(ALICE);
      await fresh.close();
    });

    it('refuses a token sent in the header and the query at once, even when one of them is valid', async () => {
      const token = await setupSession(gateway, await tokenOf('bob'), { identity: BOB, connectionType: 'WEB' });
      const refusal = await TestSocket.refused(gateway, { token, headers: { authorization: `Bearer ${token}` } });
      expectRefused(refusal, 400, /one place only/);
    });

    it.each([
      ['an OAuth access token instead of a webSocketToken', async () => tokenOf('alice')],
      ['a made-up token of the right length', async () => 'A'.repeat(43)],
      ['a token with a NUL byte appended', async () => `${await setupSession(gateway, await tokenOf('dave'), { identity: DAVE, connectionType: 'WEB' })}%00`],
      ['a 4 KiB token', async () => 'x'.repeat(4096)],
    ])('refuses %s with 401', async (_what, token) => {
      expectRefused(await TestSocket.refused(gateway, { token: await token() }), 401, /^the webSocketToken is unknown|webSocketToken .* required/);
    });
  });

  describe('cross-site WebSocket hijacking: Origin', () => {
    let token: string;
    beforeAll(async () => {
      token = await setupSession(gateway, await tokenOf('oscar', 'vora:ott'), { identity: OSCAR_FIXED, connectionType: 'WEB' });
    });

    it.each([
      'https://evil.example',
      'null',
      `${CONSOLE}.evil.example`,
      `${CONSOLE}:443`,
      `${CONSOLE}/`,
      'https://CONSOLE.vora.example',
      'http://console.vora.example',
      'https://evil.example/https://console.vora.example',
    ])('refuses Origin %s with 403 before the upgrade, whatever the token', async (origin) => {
      expectRefused(await TestSocket.refused(gateway, { token, headers: { origin } }), 403, /may not open a socket$/);
    });

    it('accepts the allowed origin and a native client without Origin', async () => {
      for (const headers of [{ origin: CONSOLE }, {}] as Array<Record<string, string>>) {
        const { socket, welcome } = await TestSocket.connect(gateway, { token, headers });
        expect(welcome.identity).toBe(OSCAR_FIXED);
        await socket.close();
      }
    });
  });

  describe('broken upgrade requests', () => {
    const upgrade = (requestLine: string, extra: string) =>
      `${requestLine}\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${extra}\r\n`;
    const broken: Array<[string, string, number]> = [
      ['no Sec-WebSocket-Key', upgrade('GET /ws HTTP/1.1', 'Sec-WebSocket-Version: 13\r\n'), 400],
      ['a Sec-WebSocket-Key that is not 16 bytes', upgrade('GET /ws HTTP/1.1', 'Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n'), 400],
      ['POST instead of GET', upgrade('POST /ws HTTP/1.1', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n'), 405],
    ];

    it.each(broken)('answers an upgrade with %s with a 4xx and closes the connection', async (_what, bytes, status) => {
      const answer = await rawExchange(gateway, bytes);
      expect(answer.statuses).toEqual([status]);
      expect(answer.closed).toBe(true);
    });

    it('answers broken upgrade requests with the seed error body', async () => {
      for (const [, bytes, status] of broken) {
        const answer = await rawExchange(gateway, bytes);
        expect(answer.head).toMatch(/content-type: application\/json/);
        expect(isErrorBody(answer.body, status)).toBe(true);
      }
    });
  });

  describe('lastEventId tricks', () => {
    it.each(['-1', '1e3', '0x10', '1.5', ' 1', '+1', '\u0661', '9999999999999999', '', '1;2', '../1'])(
      'refuses lastEventId=%j with 400 before the upgrade',
      async (lastEventId) => {
        const token = await setupSession(gateway, await tokenOf('carol', 'vora:manager'), { identity: CAROL, connectionType: 'MOBILE' });
        const refusal = await TestSocket.refused(gateway, { token, query: `lastEventId=${encodeURIComponent(lastEventId)}` });
        expectRefused(refusal, 400, 'lastEventId must be the decimal id of an event received earlier');
      },
    );

    it("never replays another user's events, whatever lastEventId a socket asks for", async () => {
      // Bob's session buffers events while it has no socket; their ids overlap alice's.
      await setupSession(gateway, await tokenOf('bob'), { identity: BOB, connectionType: 'MOBILE' });
      expect((await publish(gateway, platform, [1, 2, 3, 4, 5].map((i) => callEvent(BOB, `bob-${i}`)))).status).toBe(202);
      const aliceToken = await setupSession(gateway, await tokenOf('alice'), { identity: ALICE, connectionType: 'MOBILE' });
      expect((await publish(gateway, platform, callEvent(ALICE, 'alice-1'))).status).toBe(202);

      for (const lastEventId of ['0', '1', '3', '5', '999999999999999']) {
        const { socket, welcome } = await TestSocket.connect(gateway, { token: aliceToken, lastEventId });
        expect(welcome.identity).toBe(ALICE);
        // Events of a session arrive in order: once this marker is in, anything replayed before it is too.
        const marker = `marker-${lastEventId}`;
        expect((await publish(gateway, platform, callEvent(ALICE, marker))).status).toBe(202);
        await socket.nextMatching((m) => m.type === 'event' && m.data.callId === marker);
        const events = socket.received.filter((m) => m.type === 'event');
        expect(events.every((m) => m.identity === ALICE && !String(m.data.callId).startsWith('bob-'))).toBe(true);
        await socket.close();
      }
    });
  });

  describe('malformed frames from a raw TCP client', () => {
    let witness: TestSocket;
    let rawToken: string;

    beforeAll(async () => {
      // A well-behaved client on another session, which must keep being served throughout.
      const token = await setupSession(gateway, await tokenOf('carol', 'vora:manager'), { identity: CAROL, connectionType: 'WEB' });
      witness = (await TestSocket.connect(gateway, { token })).socket;
      rawToken = await setupSession(gateway, await tokenOf('dave'), { identity: DAVE, connectionType: 'DESKTOP' });
    });
    afterAll(() => witness.close());

    /** Opens a raw connection on dave's session and checks it is live (welcome, then a pong to a ping message). */
    async function openRaw(): Promise<RawWsClient> {
      const raw = await RawWsClient.open(gateway, rawToken);
      expect(await within(5_000, () => raw.textMessages().length >= 1)).toBe(true);
      expect(raw.textMessages()[0]).toMatchObject({ type: 'welcome', identity: DAVE });
      return raw;
    }

    it('answers a conforming raw client (the baseline): a pong frame to a ping frame, a pong message to a ping message', async () => {
      const raw = await openRaw();
      raw.send({ opcode: Opcode.Ping, payload: Buffer.from('hi') });
      raw.send({ opcode: Opcode.Text, payload: Buffer.from('{"type":"ping"}') });
      expect(await within(5_000, () => raw.textMessages().length >= 2)).toBe(true);
      expect(raw.textMessages()[1]).toEqual({ type: 'pong' });
      expect(raw.frames.find((f) => f.opcode === Opcode.Pong)?.payload.toString()).toBe('hi');
      raw.destroy();
    });

    const ping = Buffer.from('{"type":"ping"}');
    const invalidUtf8 = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    const malformed: Array<[string, FrameOptions[] | Buffer, number]> = [
      ['an unmasked client frame', [{ opcode: Opcode.Text, payload: ping, masked: false }], 1002],
      ['RSV1 set without a negotiated extension', [{ opcode: Opcode.Text, payload: ping, rsv: 0b100 }], 1002],
      ['RSV2 set', [{ opcode: Opcode.Text, payload: ping, rsv: 0b010 }], 1002],
      ['RSV3 set', [{ opcode: Opcode.Text, payload: ping, rsv: 0b001 }], 1002],
      ['an oversized control frame (ping with a 126-byte payload)', [{ opcode: Opcode.Ping, payload: Buffer.alloc(126, 0x61) }], 1002],
      ['a fragmented control frame (ping without FIN)', [{ opcode: Opcode.Ping, payload: Buffer.from('x'), fin: false }], 1002],
      ['invalid UTF-8 in a text frame', [{ opcode: Opcode.Text, payload: invalidUtf8 }], 1007],
      ['invalid UTF-8 split across fragments', [
        { opcode: Opcode.Text, payload: Buffer.from([0x7b, 0xe2, 0x82]), fin: false },
        { opcode: Opcode.Continuation, payload: Buffer.from([0x7d]) },
      ], 1007],
      ['unknown opcode 0x3', [{ opcode: 0x3, payload: ping }], 1002],
      ['unknown control opcode 0xB', [{ opcode: 0xb }], 1002],
      ['a continuation frame with nothing to continue', [{ opcode: Opcode.Continuation, payload: ping }], 1002],
      ['a new text frame inside a fragmented message', [
        { opcode: Opcode.Text, payload: Buffer.from('{"ty'), fin: false },
        { opcode: Opcode.Text, payload: ping },
      ], 1002],
      ['a close frame with a one-byte payload', [{ opcode: Opcode.Close, payload: Buffer.from([0x03]) }], 1002],
      ['a close frame with a code no endpoint may send (1005)', [{ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xed]) }], 1002],
      ['a close frame with invalid UTF-8 in its reason', [{ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8, 0xc3, 0x28]) }], 1007],
      ['a 64-bit length over 2^53', Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]), 1009],
      ['a text frame over WS_MAX_PAYLOAD_BYTES', [{ opcode: Opcode.Text, payload: Buffer.alloc(MAX_PAYLOAD + 1, 0x20) }], 1009],
      ['a fragmented message that grows over WS_MAX_PAYLOAD_BYTES', [
        { opcode: Opcode.Text, payload: Buffer.alloc(MAX_PAYLOAD / 2 + 1, 0x20), fin: false },
        { opcode: Opcode.Continuation, payload: Buffer.alloc(MAX_PAYLOAD / 2 + 1, 0x20) },
      ], 1009],
      ['a binary frame', [{ opcode: Opcode.Binary, payload: Buffer.from([0, 1, 2]) }], 1003],
    ];

    it.each(malformed)('closes the connection on %s with %i', async (_what, frames, code) => {
      const raw = await openRaw();
      raw.write(Buffer.isBuffer(frames) ? frames : Buffer.concat(frames.map((frame) => encodeFrame(frame))));
      expect(await raw.waitEnded(5_000)).toBe(true);
      expect(raw.closeCode()).toBe(code);
      // The witness is still served.
      const callId = `witness-${code}-${Math.random()}`;
      expect((await publish(gateway, platform, callEvent(CAROL, callId))).status).toBe(202);
      expect(await witness.nextMatching((m) => m.type === 'event' && m.data.callId === callId)).toBeDefined();
    });

    it('ends a raw connection that sends random bytes after the upgrade', async () => {
      const raw = await openRaw();
      raw.write(Buffer.from([0x8f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
      expect(await raw.waitEnded(5_000)).toBe(true);
    });

    it('lets the attacked session reconnect and the witness receive after all of it', async () => {
      const { socket, welcome } = await TestSocket.connect(gateway, { token: rawToken });
      expect(welcome.identity).toBe(DAVE);
      expect((await publish(gateway, platform, [callEvent(DAVE, 'after'), callEvent(CAROL, 'after')])).status).toBe(202);
      expect((await socket.nextMatching((m) => m.type === 'event')).data.callId).toBe('after');
      expect((await witness.nextMatching((m) => m.type === 'event' && m.data.callId === 'after')).identity).toBe(CAROL);
      await socket.close();
    });
  });
});

describe('attack: clients that hold connections by sending slowly', () => {
  let gateway: RunningGateway;
  let port: number;

  beforeAll(async () => {
    gateway = await startGateway({ HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '2000' });
    port = Number(new URL(gateway.url).port);
  });
  afterAll(() => gateway?.close());

  /** A TCP client that writes `text` one byte every 200 ms (then keeps adding filler) until the server ends it. */
  function trickle(text: string): { socket: Socket; ended: () => boolean; stop: () => void } {
    const socket = connect(port, '127.0.0.1');
    let ended = false;
    let i = 0;
    socket.on('close', () => (ended = true));
    socket.on('error', () => (ended = true));
    const timer = setInterval(() => {
      if (!ended) socket.write(text[i++] ?? 'a');
    }, 200);
    return {
      socket,
      ended: () => ended,
      stop: () => {
        clearInterval(timer);
        socket.destroy();
      },
    };
  }

  /** Polls /health/liveness while waiting; returns how many answers were 204. */
  async function servedWhile(condition: () => boolean, timeoutMs: number): Promise<{ done: boolean; served: number }> {
    let served = 0;
    const done = await within(
      timeoutMs,
      async () => {
        if ((await http(`${gateway.url}/health/liveness`)).status === 204) served++;
        return condition();
      },
      100,
    );
    return { done, served };
  }

  it('closes a connection that sends nothing', async () => {
    const socket = connect(port, '127.0.0.1');
    // Read what the server says on closing (a 408 error body): a paused socket never sees its own close.
    socket.resume();
    let ended = false;
    socket.on('close', () => (ended = true));
    socket.on('error', () => undefined);
    const { done, served } = await servedWhile(() => ended, 10_000);
    socket.destroy();
    expect(done).toBe(true);
    expect(served).toBeGreaterThan(0);
  });

  it('closes a slowloris client (headers one byte every 200 ms) and a slow body within 10 s, serving others meanwhile', async () => {
    const headers = trickle(`GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(500)}`);
    const body = trickle('');
    body.socket.write(
      'POST /identity/setup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"identity":"',
    );
    try {
      const { done, served } = await servedWhile(() => headers.ended() && body.ended(), 10_000);
      expect(served).toBeGreaterThan(0);
      expect(done).toBe(true);
    } finally {
      headers.stop();
      body.stop();
    }
  });
});
