import { Socket } from 'node:net';
import { ClientConnection } from '../src/gateway/client-connection';
import { SocketRegistry } from '../src/gateway/socket-registry';
import { Metrics } from '../src/infra/metrics/metrics';
import { SessionStore } from '../src/session/session.store';
import { ALICE, BOB } from './support/fixtures';
import { eventually, openSession, publishAccepted, RunningGateway, setupSession, TestSocket, useGateway, useIssuer, useRedis, useSockets } from './support/harness';

/**
 * A resume always completes (SPEC section 4, "Replay is paced"): a replay
 * larger than WS_MAX_BUFFERED_BYTES is written as the client reads it, live
 * events wait behind it, and 4008 is left for clients that do not read live
 * events. The events are 8 KiB, the limit 64 KiB, the buffer the default
 * 1,000 events: 8 MiB to replay, more than the kernel's socket buffers hold.
 */

const LIMIT = 65_536;
const FULL = 1_000;
const BLOB = 'x'.repeat(8 * 1024);
const held = (seq: number) => ({ event: 'CallHeld', identity: ALICE, data: { seq, blob: BLOB } });
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

const stores: Array<['memory' | 'redis']> = [['memory'], ['redis']];

describe.each(stores)('paced replay, WS_MAX_BUFFERED_BYTES=65536 and 8 KiB events (%s)', (store) => {
  const issuer = useIssuer();
  let platform: string;
  const { sockets, track } = useSockets();
  const alice = () => issuer.sign({ sub: 'alice', scope: 'vora:user' });

  /** Publishes events seq from..to for ALICE, in batches that fit POST /events. */
  async function publishHeld(gateway: RunningGateway, from: number, to: number): Promise<void> {
    for (let start = from; start <= to; start += 100) {
      const batch = Array.from({ length: Math.min(100, to - start + 1) }, (_, i) => held(start + i));
      await publishAccepted(gateway, platform, batch);
    }
  }

  /** Exactly once: after the expected events, the next event on the socket is a sentinel published after them. */
  async function expectSentinelNext(gateway: RunningGateway, socket: TestSocket, id: number): Promise<void> {
    await publishAccepted(gateway, platform, { event: 'CallCleared', identity: ALICE, data: { sentinel: true } });
    expect(await socket.nextEvent(30_000)).toMatchObject({ id: String(id), event: 'CallCleared', data: { sentinel: true } });
  }

  /** The events of a replay, checked one by one: every id once, in order, each with its own data. */
  async function expectEvents(socket: TestSocket, from: number, to: number): Promise<void> {
    const events = await socket.events(to - from + 1, 30_000);
    expect(events.map((e) => e.id)).toEqual(ids(from, to));
    expect(events.map((e) => String(e.data.seq))).toEqual(ids(from, to));
  }

  /** A gateway (on its own redis-server in Redis mode) for one describe block. */
  function gatewayWith(env: Record<string, string>): () => RunningGateway {
    const redis = store === 'redis' ? useRedis() : undefined;
    const { gateway } = useGateway(
      () => ({ WS_MAX_BUFFERED_BYTES: String(LIMIT), ...env, ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}) }),
      { issuer },
    );
    afterEach(async () => {
      await Promise.all(sockets.splice(0).map((socket) => socket.close()));
      const sessions = gateway.app.get(SessionStore);
      for (const session of await sessions.listByUser('alice')) await sessions.remove(session.id);
    });
    return () => gateway;
  }

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
  });

  describe('with the default buffer of 1,000 events', () => {
    const gateway = gatewayWith({});

    it('replays a full buffer to a client that connects, every event once and in order', async () => {
      const token = await setupSession(gateway(), await alice(), { identity: ALICE });
      await publishHeld(gateway(), 1, FULL);
      const { socket, welcome } = track(await TestSocket.connect(gateway(), { token, lastEventId: 0 }));
      expect(welcome).toMatchObject({ lastEventId: String(FULL), recovered: true });
      await expectEvents(socket, 1, FULL);
      await expectSentinelNext(gateway(), socket, FULL + 1);
      expect(socket.isClosed).toBe(false);
    });

    it('writes live events published during the replay after it, in order', async () => {
      const token = await setupSession(gateway(), await alice(), { identity: ALICE });
      await publishHeld(gateway(), 1, 600);
      const { socket } = track(await TestSocket.connect(gateway(), { token }));
      // Live events arrive while the replay is under way: its first events are read, the rest not yet.
      const first = await socket.events(10, 30_000);
      await publishHeld(gateway(), 601, 800);
      expect(first.map((e) => e.id)).toEqual(ids(1, 10));
      await expectEvents(socket, 11, 800);
      await expectSentinelNext(gateway(), socket, 801);
    });
  });

  describe('with EVENT_BUFFER_SIZE=10000', () => {
    const gateway = gatewayWith({ EVENT_BUFFER_SIZE: '10000' });

    it('replays everything after a 4008 to the client that resumes, every event once and in order', async () => {
      const slow = await openSession(gateway(), await alice(), { identity: ALICE });
      const registry = gateway().app.get(SocketRegistry) as unknown as { connections: Map<string, ClientConnection> };
      const serverSide = registry.connections.get(slow.welcome.sessionId)!;
      slow.socket.pauseReading();
      let published = 0;
      while (serverSide.isOpen && published < 6_000) {
        await publishHeld(gateway(), published + 1, published + 100);
        published += 100;
      }
      expect(serverSide.isOpen).toBe(false);
      slow.socket.resumeReading();
      expect(await slow.socket.closed(30_000)).toEqual({ code: 4008, reason: 'too slow; reconnect with lastEventId' });
      const seen = slow.socket.received.filter((m) => m.type === 'event');
      expect(seen.map((e) => e.id)).toEqual(ids(1, seen.length));

      // The platform goes on while the client is away: the backlog is far beyond the limit, yet the resume completes.
      await publishHeld(gateway(), published + 1, published + FULL);
      published += FULL;
      const { socket, welcome } = track(await TestSocket.connect(gateway(), { token: slow.token, lastEventId: seen.length }));
      expect(welcome).toMatchObject({ lastEventId: String(published), recovered: true });
      await expectEvents(socket, seen.length + 1, published);
      await expectSentinelNext(gateway(), socket, published + 1);
    });
  });

  describe('with HEARTBEAT_INTERVAL_MS=500', () => {
    const gateway = gatewayWith({ HEARTBEAT_INTERVAL_MS: '500' });

    it('cuts a client that stops reading during a replay by the heartbeat, not 4008, and its session survives for the next resume', async () => {
      const metrics = gateway().app.get(Metrics);
      const closes = async (code: string) =>
        (await metrics.socketCloses.get()).values.find((v) => v.labels.code === code)?.value ?? 0;
      const [cutBefore, slowBefore] = [await closes('1006'), await closes('4008')];
      const token = await setupSession(gateway(), await alice(), { identity: ALICE });
      await publishHeld(gateway(), 1, FULL);
      const replayedBefore = metrics.delivered.replay;

      const stopping = await TestSocket.openWith(gateway(), { token }, {});
      // Stops reading as soon as the welcome is in: the replay has only begun.
      stopping.socket.once('message', () => stopping.pauseReading());
      const registry = gateway().app.get(SocketRegistry);
      await eventually(async () => (await closes('1006')) > cutBefore, { timeoutMs: 10_000, what: 'the heartbeat to cut the socket' });
      expect(registry.size).toBe(0);
      expect(await closes('4008')).toBe(slowBefore);
      // Cut in the middle: the gateway had not written the whole buffer.
      expect(metrics.delivered.replay - replayedBefore).toBeLessThan(FULL);

      stopping.resumeReading();
      expect((await stopping.closed(30_000)).code).toBe(1006);
      const seen = stopping.received.filter((m) => m.type === 'event');
      expect(seen.map((e) => e.id)).toEqual(ids(1, seen.length));
      expect(seen.length).toBeLessThan(FULL);

      const { socket, welcome } = track(await TestSocket.connect(gateway(), { token, lastEventId: seen.length }));
      expect(welcome).toMatchObject({ lastEventId: String(FULL), recovered: true });
      await expectEvents(socket, seen.length + 1, FULL);
      await expectSentinelNext(gateway(), socket, FULL + 1);
    });
  });
});

describe('WebSocket protocol', () => {
  const issuer = useIssuer();
  const { track } = useSockets();
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });
  let platform: string;
  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });

  describe('slow consumer, with WS_MAX_BUFFERED_BYTES=65536', () => {
    const { gateway } = useGateway({ WS_MAX_BUFFERED_BYTES: '65536', EVENT_BUFFER_SIZE: '10000' }, { issuer });

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
    const { gateway } = useGateway(
      { WS_MAX_BUFFERED_BYTES: String(LIMIT), WS_MESSAGE_BURST: '1000000', WS_MESSAGES_PER_SECOND: '1000000' },
      { issuer },
    );

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
});
