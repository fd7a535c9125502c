import { EventBufferStore } from '../src/events/event-buffer.store';
import { HandshakeService } from '../src/gateway/handshake.service';
import { SessionStore } from '../src/session/session.store';
import { ALICE, BOB, REMOTE_PARTY } from './support/fixtures';
import { eventually, http, openSession, publishAccepted, RunningGateway, setupSession, startGateway, TestSocket, useGateway, useIssuer, useSockets } from './support/harness';

const call = (identity: string, seq: number) => ({
  event: 'CallHeld',
  identity,
  data: { callId: 'c-1', direction: 'terminating', remoteParty: REMOTE_PARTY, seq },
});
const calls = (identity: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => call(identity, from + i));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('WebSocket sessions: buffering, resume and close codes', () => {
  const issuer = useIssuer();
  let platform: string;
  const { sockets, track } = useSockets();
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });
  const sessionIdOf = async (gateway: RunningGateway, identity: string) => {
    const [sessions] = await gateway.app.get(SessionStore).listByIdentities([identity]);
    expect(sessions).toHaveLength(1);
    return sessions[0].id;
  };

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });

  describe('with the default buffer', () => {
    const { gateway } = useGateway({}, { issuer });
    afterEach(async () => {
      const store = gateway.app.get(SessionStore);
      for (const sub of ['alice', 'bob']) for (const session of await store.listByUser(sub)) await store.remove(session.id);
    });

    it('keeps events published while no socket is open and sends them on connect', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 3));
      const { socket, welcome } = track(await TestSocket.connect(gateway, { token }));
      expect(welcome).toMatchObject({ lastEventId: '3', recovered: true });
      const events = await socket.events(3);
      expect(events.map((e) => [e.id, e.data.seq])).toEqual([
        ['1', 1],
        ['2', 2],
        ['3', 3],
      ]);
    });

    it('replays every event after ?lastEventId= id by id, then continues live with the next id', async () => {
      const first = await openSession(gateway, await user('alice'), { identity: ALICE });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 3));
      expect((await first.socket.events(3)).map((e) => e.id)).toEqual(range(1, 3));
      await first.socket.close();

      await publishAccepted(gateway, platform, calls(ALICE, 4, 6));
      await publishAccepted(gateway, platform, calls(ALICE, 7, 8));
      const { socket, welcome } = track(await TestSocket.connect(gateway, { token: first.token, lastEventId: 3 }));
      expect(welcome).toMatchObject({ type: 'welcome', lastEventId: '8', recovered: true });
      const replayed = await socket.events(5);
      for (const [index, event] of replayed.entries()) {
        expect(event).toMatchObject({ type: 'event', id: String(4 + index), identity: ALICE, data: { seq: 4 + index } });
      }
      // Exactly once: the next event after the replay is the live one published after it.
      await publishAccepted(gateway, platform, call(ALICE, 9));
      expect(await socket.nextEvent()).toMatchObject({ id: '9', data: { seq: 9 } });
    });

    it('replays from any id still buffered, without duplicates', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 6));
      const first = track(await TestSocket.connect(gateway, { token, lastEventId: 4 }));
      expect(first.welcome).toMatchObject({ lastEventId: '6', recovered: true });
      expect((await first.socket.events(2)).map((e) => e.id)).toEqual(['5', '6']);
      await first.socket.close();
      const again = track(await TestSocket.connect(gateway, { token, lastEventId: 0 }));
      expect(again.welcome).toMatchObject({ lastEventId: '6', recovered: true });
      expect((await again.socket.events(6)).map((e) => e.id)).toEqual(range(1, 6));
      await publishAccepted(gateway, platform, call(ALICE, 7));
      expect(await again.socket.nextEvent()).toMatchObject({ id: '7' });
    });

    it('resumes without lastEventId after the last event written to a socket', async () => {
      const first = await openSession(gateway, await user('alice'), { identity: ALICE });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 3));
      await first.socket.events(3);
      await first.socket.close();
      await publishAccepted(gateway, platform, calls(ALICE, 4, 5));
      const { socket, welcome } = track(await TestSocket.connect(gateway, { token: first.token }));
      expect(welcome).toMatchObject({ lastEventId: '5', recovered: true });
      expect((await socket.events(2)).map((e) => e.id)).toEqual(['4', '5']);
    });

    it('says recovered: false for a lastEventId the session never reached, and continues with the next id', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 3));
      const { socket, welcome } = track(await TestSocket.connect(gateway, { token, lastEventId: 99 }));
      expect(welcome).toMatchObject({ lastEventId: '3', recovered: false });
      await publishAccepted(gateway, platform, call(ALICE, 4));
      expect(await socket.nextEvent()).toMatchObject({ id: '4', data: { seq: 4 } });
    });

    it('closes the first socket with 4002 when a second one opens for the same session', async () => {
      const first = await openSession(gateway, await user('alice'), { identity: ALICE });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 2));
      await first.socket.events(2);
      const second = track(await TestSocket.connect(gateway, { token: first.token }));
      expect(await first.socket.closed()).toEqual({ code: 4002, reason: 'replaced by a newer socket' });
      // The new socket resumes after what the first one was sent.
      expect(second.welcome).toMatchObject({ lastEventId: '2', recovered: true });
      await publishAccepted(gateway, platform, call(ALICE, 3));
      expect(await second.socket.nextEvent()).toMatchObject({ id: '3' });
    });

    it('closes the old socket with 4002 on a new setup with the same key, and refuses the old token with 401', async () => {
      const old = await openSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'MOBILE' });
      const other = track(await openSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'WEB' }));
      const fresh = track(await openSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'MOBILE' }));
      expect(await old.socket.closed()).toEqual({ code: 4002, reason: 'replaced by a new setup' });
      expect(fresh.welcome.sessionId).not.toBe(old.welcome.sessionId);
      const refusal = await TestSocket.refused(gateway, { token: old.token });
      expect(refusal.status).toBe(401);
      expect(refusal.body).toEqual({
        timestamp: expect.any(String),
        status: '401',
        error: 'Unauthorized',
        message: 'the webSocketToken is unknown, revoked or expired',
      });
      expect(refusal.headers['www-authenticate']).toBe('Bearer realm="vora"');
      // Another connection type of the same identity is untouched.
      expect(other.socket.isClosed).toBe(false);
      await publishAccepted(gateway, platform, call(ALICE, 1));
      expect(await other.socket.nextEvent()).toMatchObject({ id: '1' });
      expect(await fresh.socket.nextEvent()).toMatchObject({ id: '1' });
    });
  });

  describe('with EVENT_BUFFER_SIZE=5', () => {
    const { gateway } = useGateway({ EVENT_BUFFER_SIZE: '5' }, { issuer });

    it('says recovered: false when the asked-for id left the buffer, then sends the oldest kept events', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'WEB' });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 12));
      const { socket, welcome } = track(await TestSocket.connect(gateway, { token, lastEventId: 2 }));
      expect(welcome).toMatchObject({ lastEventId: '12', recovered: false });
      const events = await socket.events(5);
      expect(events.map((e) => e.id)).toEqual(range(8, 12));
      expect(events.map((e) => e.data.seq)).toEqual([8, 9, 10, 11, 12]);
      await publishAccepted(gateway, platform, call(ALICE, 13));
      expect(await socket.nextEvent()).toMatchObject({ id: '13' });
    });

    it('draws the line exactly at the oldest kept event', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'DESKTOP' });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 12));
      const missing = track(await TestSocket.connect(gateway, { token, lastEventId: 6 }));
      expect(missing.welcome).toMatchObject({ lastEventId: '12', recovered: false });
      expect((await missing.socket.events(5)).map((e) => e.id)).toEqual(range(8, 12));
      await missing.socket.close();
      const kept = track(await TestSocket.connect(gateway, { token, lastEventId: 7 }));
      expect(kept.welcome).toMatchObject({ lastEventId: '12', recovered: true });
      expect((await kept.socket.events(5)).map((e) => e.id)).toEqual(range(8, 12));
    });

    it('replays the kept events on a first connect after an overflow (without lastEventId)', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'MOBILE' });
      await publishAccepted(gateway, platform, calls(ALICE, 1, 7));
      const { socket, welcome } = track(await TestSocket.connect(gateway, { token }));
      expect(welcome).toMatchObject({ lastEventId: '7', recovered: false });
      expect((await socket.events(5)).map((e) => e.id)).toEqual(range(3, 7));
    });
  });

  describe('with SESSION_IDLE_TTL_S=1 and HEARTBEAT_INTERVAL_MS=200', () => {
    const { gateway } = useGateway({ SESSION_IDLE_TTL_S: '1', HEARTBEAT_INTERVAL_MS: '200' }, { issuer });

    it('expires a session with no socket, refuses its token and frees its buffer', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE });
      const sessionId = await sessionIdOf(gateway, ALICE);
      await publishAccepted(gateway, platform, calls(ALICE, 1, 3));
      const buffer = gateway.app.get(EventBufferStore);
      expect((await buffer.readAfter(sessionId, 0)).newestId).toBe(3);

      const store = gateway.app.get(SessionStore);
      await eventually(async () => (await store.listByUser('alice')).every((session) => session.id !== sessionId), { timeoutMs: 5_000, what: 'the session to expire' });
      const refusal = await TestSocket.refused(gateway, { token });
      expect(refusal.status).toBe(401);
      expect(refusal.body).toMatchObject({ status: '401', message: 'the webSocketToken is unknown, revoked or expired' });
      await eventually(async () => (await buffer.readAfter(sessionId, 0)).newestId === 0, { timeoutMs: 5_000, what: 'the buffer to be freed' });
      expect(await buffer.readAfter(sessionId, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect(await store.listByIdentities([ALICE])).toEqual([[]]);
    });

    it('keeps a session with an open socket alive past the TTL (heartbeats)', async () => {
      const { socket, welcome } = track(await openSession(gateway, await user('alice'), { identity: ALICE }));
      let pings = 0;
      socket.socket.on('ping', () => pings++);
      // Wait out 2.5 idle TTLs, measured in heartbeats rather than a fixed sleep.
      await eventually(() => pings >= 13, { timeoutMs: 6_000, what: '13 heartbeats' });
      expect(socket.isClosed).toBe(false);
      expect((await gateway.app.get(SessionStore).listByUser('alice')).map((session) => session.id)).toContain(welcome.sessionId);
      await publishAccepted(gateway, platform, call(ALICE, 1));
      expect(await socket.nextEvent()).toMatchObject({ id: '1' });
    });

    it('restarts the idle clock when the socket closes', async () => {
      const opened = await openSession(gateway, await user('alice'), { identity: ALICE });
      let pings = 0;
      opened.socket.socket.on('ping', () => pings++);
      await eventually(() => pings >= 8, { timeoutMs: 5_000, what: '8 heartbeats' });
      await opened.socket.close();
      // The session outlived its setup by more than the TTL, yet can be resumed right after the socket went.
      const again = track(await TestSocket.connect(gateway, { token: opened.token }));
      expect(again.welcome.sessionId).toBe(opened.welcome.sessionId);
    });

    it('closes with 4001 when the session disappears while connected', async () => {
      const { socket, welcome } = track(await openSession(gateway, await user('alice'), { identity: ALICE }));
      await gateway.app.get(SessionStore).remove(welcome.sessionId);
      expect(await socket.closed()).toEqual({ code: 4001, reason: 'session expired' });
    });
  });

  // That a buffer outlives its socket's close for as long as the session lives is checked with fake timers
  // in socket-registry.spec.ts: here it would take sleeps timed against the heartbeat.

  describe('shutdown', () => {
    it('closes open sockets with 1001', async () => {
      const gateway = await startGateway(issuer.env());
      const alice = await openSession(gateway, await user('alice'), { identity: ALICE });
      const bob = await openSession(gateway, await user('bob'), { identity: BOB });
      const closing = gateway.close();
      const reason = 'gateway shutting down; reconnect and resume';
      expect(await alice.socket.closed()).toEqual({ code: 1001, reason });
      expect(await bob.socket.closed()).toEqual({ code: 1001, reason });
      await closing;
    });

    it('refuses new sockets with 503 while it waits for open ones to close', async () => {
      const gateway = await startGateway(issuer.env());
      const alice = await openSession(gateway, await user('alice'), { identity: ALICE });
      const bobToken = await setupSession(gateway, await user('bob'), { identity: BOB });
      // A client that does not read holds the shutdown open until it answers the close.
      alice.socket.pauseReading();
      const closing = gateway.close();
      await eventually(() => gateway.app.get(HandshakeService).draining, { timeoutMs: 2_000, what: 'shutdown to begin' });
      const refusal = await TestSocket.refused(gateway, { token: bobToken });
      expect(refusal.status).toBe(503);
      expect(refusal.body).toMatchObject({ status: '503', message: 'the gateway is shutting down; reconnect to resume' });
      alice.socket.resumeReading();
      expect(await alice.socket.closed()).toEqual({ code: 1001, reason: 'gateway shutting down; reconnect and resume' });
      await closing;
    });
  });
});
