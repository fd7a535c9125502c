import { ClientConnection } from '../src/gateway/client-connection';
import { SocketRegistry } from '../src/gateway/socket-registry';
import { Metrics } from '../src/metrics/metrics';
import { SessionStore } from '../src/session/session.store';
import { RunningGateway, startGateway } from './support/gateway';
import { startRedis, TestRedis } from './support/redis-server';
import { TestIssuer } from './support/test-issuer';
import { eventually } from './support/eventually';
import { openSession, publishAccepted, setupSession, TestSocket } from './support/ws-client';

/**
 * A resume always completes (SPEC section 4, "Replay is paced"): a replay
 * larger than WS_MAX_BUFFERED_BYTES is written as the client reads it, live
 * events wait behind it, and 4008 is left for clients that do not read live
 * events. The events are 8 KiB, the limit 64 KiB, the buffer the default
 * 1,000 events: 8 MiB to replay, more than the kernel's socket buffers hold.
 */

const ALICE = '+905321110001';
const LIMIT = 65_536;
const FULL = 1_000;
const BLOB = 'x'.repeat(8 * 1024);
const held = (seq: number) => ({ event: 'CallHeld', identity: ALICE, data: { seq, blob: BLOB } });
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

const stores: Array<['memory' | 'redis']> = [['memory'], ['redis']];

describe.each(stores)('paced replay, WS_MAX_BUFFERED_BYTES=65536 and 8 KiB events (%s)', (store) => {
  let issuer: TestIssuer;
  let platform: string;
  const sockets: TestSocket[] = [];
  const alice = () => issuer.sign({ sub: 'alice', scope: 'vora:user' });
  const track = <T extends { socket: TestSocket }>(opened: T): T => {
    sockets.push(opened.socket);
    return opened;
  };

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
    let redis: TestRedis | undefined;
    let gateway: RunningGateway;
    beforeAll(async () => {
      if (store === 'redis') redis = await startRedis();
      gateway = await startGateway({
        ...issuer.env(),
        WS_MAX_BUFFERED_BYTES: String(LIMIT),
        ...env,
        ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
      });
    });
    afterAll(async () => {
      await gateway?.close();
      await redis?.close();
    });
    afterEach(async () => {
      await Promise.all(sockets.splice(0).map((socket) => socket.close()));
      const sessions = gateway.app.get(SessionStore);
      for (const session of await sessions.listByUser('alice')) await sessions.remove(session.id);
    });
    return () => gateway;
  }

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
  });
  afterAll(() => issuer.close());

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
