import WebSocket from 'ws';
import { VoraClient, VoraCloseError, VoraProtocolError, VoraRequestError, VoraSession } from '../client/src';
import type { FetchLike, WebSocketConstructor } from '../client/src';
import { SessionStore } from '../src/session/session.store';
import { SessionRecorder } from './support/session-recorder';
import { TcpProxy } from './support/tcp-proxy';
import { ALICE, ALICE_FIXED, BOB, REMOTE_PARTY } from './support/fixtures';
import { expectError, http, publishAccepted, startGateway, useGateway } from './support/harness';

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

const presence = (identity: string, n: number) => ({ event: 'PresenceChanged', identity, data: { presence: `p${n}` } });
const call = (identity: string, callId: string) => ({
  event: 'CallDelivered',
  identity,
  data: { callId, direction: 'terminating', remoteParty: REMOTE_PARTY },
});

/** @vora/client against the real gateway in Node: Node 20's fetch and the ws package (SPEC section 11). */
describe('@vora/client in Node', () => {
  let proxy: TcpProxy;
  // Declared before the gateway's, so that the proxy closes first.
  afterAll(() => proxy?.close());
  // A short idle TTL makes the heartbeat refresh sessions every couple of seconds, so that it finds one
  // that vanished from the store (as an expired one does) soon: the 4001 tests remove sessions that way.
  const { issuer, gateway } = useGateway({ HEARTBEAT_INTERVAL_MS: '300', SESSION_IDLE_TTL_S: '6' });
  let core: string;
  const sessions: VoraSession[] = [];

  const clientFor = (sub: string, baseUrl = proxy.url, extra: Partial<ConstructorParameters<typeof VoraClient>[0]> = {}) =>
    new VoraClient({ baseUrl, accessToken: () => issuer.sign({ sub, scope: 'vora:user' }), WebSocket: NodeWebSocket, ...extra });

  const open = async (client: VoraClient, identity = ALICE, extra: Record<string, unknown> = {}) => {
    const session = await client.openSession({ identity, connectionType: 'WEB', ...extra });
    sessions.push(session);
    return new SessionRecorder(session);
  };

  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(gateway.url).port));
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
  });
  afterEach(() => sessions.splice(0).forEach((session) => session.close()));

  it('lists the identities of the caller (GET /identity)', async () => {
    expect(await clientFor('alice').identities()).toEqual([ALICE, ALICE_FIXED]);
  });

  it('surfaces REST errors with the gateway\'s error body', async () => {
    const refused = await clientFor('alice')
      .openSession({ identity: BOB, connectionType: 'WEB' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(VoraRequestError);
    const error = refused as VoraRequestError;
    expect(error.status).toBe(403);
    expect(error.message).toBe(`identity ${BOB} is not assigned to this account`);
    expectError({ status: error.status, headers: new Headers({ 'content-type': 'application/json' }), body: error.body }, 403);
  });

  it('opens a session: states, welcome, every event typed by name, lastEventId, token and id', async () => {
    const recorder = await open(clientFor('alice'));
    const { session } = recorder;
    expect(session.state).toBe('connecting');
    const delivered: string[] = [];
    session.on('CallDelivered', (event) => delivered.push(event.data.callId));
    await recorder.state('connected');
    expect(recorder.states).toEqual(['connected']);
    expect(session.welcome).toMatchObject({ type: 'welcome', identity: ALICE, mode: 'user', lastEventId: '0', recovered: true });
    expect(session.sessionId).toBe(session.welcome!.sessionId);
    expect(session.webSocketToken).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(session.lastEventId).toBe('0');

    await publishAccepted(gateway, core, [call(ALICE, 'c-1'), presence(ALICE, 1), call(ALICE, 'c-2')]);
    await recorder.eventCount(3);
    expect(recorder.events.map((e) => [e.id, e.event])).toEqual([['1', 'CallDelivered'], ['2', 'PresenceChanged'], ['3', 'CallDelivered']]);
    expect(recorder.events[0]).toMatchObject({ identity: ALICE, data: { callId: 'c-1', direction: 'terminating' } });
    expect(delivered).toEqual(['c-1', 'c-2']);
    expect(session.lastEventId).toBe('3');
  });

  it('opens with a subscription and changes it with subscribe(), at once on the socket', async () => {
    const recorder = await open(clientFor('alice'), ALICE, { subscription: { subscribeAll: false, events: ['CallCleared'] } });
    await recorder.state('connected');
    expect(recorder.session.welcome!.subscription).toEqual({ subscribeAll: false, events: ['CallCleared'] });
    expect(await recorder.session.subscribe({ subscribeAll: false, events: ['PresenceChanged'] })).toEqual({
      subscribeAll: false,
      events: ['PresenceChanged'],
    });
    await publishAccepted(gateway, core, [{ event: 'CallCleared', identity: ALICE, data: {} }, presence(ALICE, 1)]);
    await recorder.eventCount(1);
    expect(recorder.events.map((e) => e.event)).toEqual(['PresenceChanged']);
  });

  it('hands every event to listeners once and in order across forced reconnects', async () => {
    // Small jitter draws keep the five backoffs short; the growth of their caps is checked with fake timers.
    jest.spyOn(Math, 'random').mockReturnValue(0.05);
    const recorder = await open(clientFor('alice'));
    await recorder.state('connected');
    const connectionsBefore = proxy.connections;
    let published = 0;
    for (let cut = 1; cut <= 5; cut++) {
      await publishAccepted(gateway, core, Array.from({ length: 8 }, () => presence(ALICE, ++published)));
      // Cut while events are on the wire: some were written to the dead socket and never read.
      await recorder.eventCount(published - 4);
      proxy.cutAll();
      await publishAccepted(gateway, core, Array.from({ length: 4 }, () => presence(ALICE, ++published)));
      await recorder.welcomeCount(cut + 1);
    }
    await recorder.eventCount(published);
    expect(recorder.ids).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(recorder.events.map((e) => e.data.presence)).toEqual(Array.from({ length: published }, (_, i) => `p${i + 1}`));
    expect(proxy.connections - connectionsBefore).toBe(5);
    expect(recorder.states).toEqual(['connected', ...Array(5).fill(['reconnecting', 'connected']).flat()]);
    expect(recorder.errors).toEqual([]);
    jest.restoreAllMocks();
  });

  it('resumes after a "reload": a new object with the saved token and lastEventId gets only what came after', async () => {
    const first = await open(clientFor('alice'));
    await first.state('connected');
    await publishAccepted(gateway, core, [presence(ALICE, 1), presence(ALICE, 2)]);
    await first.eventCount(2);
    const saved = { webSocketToken: first.session.webSocketToken, lastEventId: first.session.lastEventId, sessionId: first.session.sessionId };
    first.session.close();
    expect(first.session.state).toBe('closed');
    await publishAccepted(gateway, core, [presence(ALICE, 3), presence(ALICE, 4)]);

    const resumed = VoraSession.resume({ baseUrl: proxy.url, webSocketToken: saved.webSocketToken, lastEventId: saved.lastEventId, WebSocket: NodeWebSocket });
    sessions.push(resumed);
    const recorder = new SessionRecorder(resumed);
    await recorder.eventCount(2);
    expect(resumed.sessionId).toBe(saved.sessionId);
    expect(recorder.welcomes[0]).toMatchObject({ lastEventId: '4', recovered: true });
    expect(recorder.ids).toEqual([3, 4]);
    expect(resumed.lastEventId).toBe('4');
  });

  it('sends ready and decline, and surfaces the gateway\'s error message', async () => {
    const recorder = await open(clientFor('alice'));
    expect(() => recorder.session.ready('c-1')).toThrow('ready needs a connected session (state is connecting)');
    await recorder.state('connected');
    recorder.session.ready('c-9');
    recorder.session.decline('c-10');
    const errors = await recorder.errorCount(2);
    expect(errors.every((error) => error instanceof VoraProtocolError)).toBe(true);
    expect(errors.map((error) => error.message)).toEqual([
      'call c-9 is not waiting for an answer from this session',
      'call c-10 is not waiting for an answer from this session',
    ]);
    expect(recorder.session.state).toBe('connected');
  });

  describe('close codes (SPEC section 11)', () => {
    it('logout(): POST /logout/{identity}, then closed; a second one answers 404', async () => {
      const recorder = await open(clientFor('alice'));
      await recorder.state('connected');
      await recorder.session.logout();
      expect(recorder.session.state).toBe('closed');
      expect(recorder.errors).toEqual([]);
      const again = await recorder.session.logout().catch((error: unknown) => error);
      expect(again).toBeInstanceOf(VoraRequestError);
      expect((again as VoraRequestError).status).toBe(404);
    });

    it('4000 (logged out elsewhere): closed for good, with the reason as an error', async () => {
      const recorder = await open(clientFor('alice'));
      await recorder.state('connected');
      const connections = proxy.connections;
      const logout = await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { method: 'POST', token: await issuer.sign({ sub: 'alice' }) });
      expect(logout.status).toBe(200);
      await recorder.state('closed');
      expect(recorder.errors).toHaveLength(1);
      expect(recorder.errors[0]).toBeInstanceOf(VoraCloseError);
      expect(recorder.errors[0]).toMatchObject({ code: 4000, reason: 'logged out' });
      expect(proxy.connections).toBe(connections);
    });

    it('4002 (replaced by a new setup): closed for good', async () => {
      const client = clientFor('alice');
      const first = await open(client);
      await first.state('connected');
      const second = await open(client);
      await second.state('connected');
      await first.state('closed');
      expect(first.errors[0]).toMatchObject({ code: 4002 });
      expect(second.session.state).toBe('connected');
    });

    it('4001 (session expired): a new session through the access token, announced as a resync; ids restart', async () => {
      const recorder = await open(clientFor('alice'), ALICE, { subscription: { subscribeAll: false, events: ['PresenceChanged'] } });
      await recorder.state('connected');
      await publishAccepted(gateway, core, [presence(ALICE, 1), presence(ALICE, 2)]);
      await recorder.eventCount(2);
      const oldId = recorder.session.sessionId!;
      const oldToken = recorder.session.webSocketToken;
      await gateway.app.get(SessionStore).remove(oldId);

      await recorder.welcomeCount(2);
      expect(recorder.resyncs).toEqual([{ reason: 'new-session', welcome: recorder.welcomes[1] }]);
      expect(recorder.session.sessionId).not.toBe(oldId);
      expect(recorder.session.webSocketToken).not.toBe(oldToken);
      expect(recorder.session.lastEventId).toBe('0');
      expect(recorder.welcomes[1].subscription).toEqual({ subscribeAll: false, events: ['PresenceChanged'] });
      await publishAccepted(gateway, core, [presence(ALICE, 3)]);
      await recorder.eventCount(3);
      expect(recorder.events.map((e) => [e.id, e.data.presence])).toEqual([['1', 'p1'], ['2', 'p2'], ['1', 'p3']]);
    });

    it('4001 without an access token (a resumed session): closed, with the reason as an error', async () => {
      const opened = await open(clientFor('alice'));
      await opened.state('connected');
      const resumed = VoraSession.resume({ baseUrl: proxy.url, webSocketToken: opened.session.webSocketToken, WebSocket: NodeWebSocket });
      sessions.push(resumed);
      const recorder = new SessionRecorder(resumed);
      await recorder.state('connected');
      await gateway.app.get(SessionStore).remove(resumed.sessionId!);
      await recorder.state('closed');
      expect(recorder.errors.map((e) => (e as VoraCloseError).code)).toEqual([4001]);
    });

    it('a token the handshake refuses (HTTP 401) is the session ending: closed without an access token', async () => {
      const recorder = new SessionRecorder(VoraSession.resume({ baseUrl: proxy.url, webSocketToken: 'not-a-token', WebSocket: NodeWebSocket }));
      sessions.push(recorder.session);
      await recorder.state('closed');
      expect(recorder.errors).toHaveLength(1);
      expect(recorder.errors[0]).toMatchObject({ code: 4001, message: 'the gateway refused the webSocketToken: the session is over' });
    });
  });

  it('prints nothing unless given a logger, and never logs a token', async () => {
    const printed = (['log', 'info', 'warn', 'error', 'debug'] as const).map((name) => jest.spyOn(console, name));
    const lines: string[] = [];
    const logger = { debug: (m: string) => lines.push(m), info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    try {
      const quiet = await open(clientFor('alice'));
      const chatty = await open(clientFor('alice', proxy.url, { logger }), ALICE_FIXED);
      await Promise.all([quiet.state('connected'), chatty.state('connected')]);
      proxy.cutAll();
      await Promise.all([quiet.welcomeCount(2), chatty.welcomeCount(2)]);
      for (const spy of printed) expect(spy).not.toHaveBeenCalled();
      expect(lines.some((line) => line.startsWith('connected to session'))).toBe(true);
      expect(lines.some((line) => /^socket closed with 1006/.test(line))).toBe(true);
      expect(lines.join('\n')).not.toContain(chatty.session.webSocketToken);
    } finally {
      printed.forEach((spy) => spy.mockRestore());
    }
  });

  it('takes an injected fetch and WebSocket', async () => {
    const fetchCalls: string[] = [];
    const socketUrls: string[] = [];
    const countingFetch: FetchLike = (url, init) => {
      fetchCalls.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, init);
    };
    class CountingWebSocket extends WebSocket {
      constructor(url: string) {
        socketUrls.push(new URL(url).pathname);
        super(url);
      }
    }
    const client = clientFor('alice', proxy.url, { fetch: countingFetch, WebSocket: CountingWebSocket as unknown as WebSocketConstructor });
    const recorder = await open(client);
    await recorder.state('connected');
    expect(fetchCalls).toEqual(['POST /identity/setup']);
    expect(socketUrls).toEqual(['/ws']);
  });

  it('after recovered: false, says so with a resync and goes on with the oldest kept events', async () => {
    const small = await startGateway({ ...issuer.env(), EVENT_BUFFER_SIZE: '3' });
    try {
      const recorder = await open(clientFor('alice', small.url));
      await recorder.state('connected');
      await publishAccepted(small, core, [presence(ALICE, 1)]);
      await recorder.eventCount(1);
      const saved = { webSocketToken: recorder.session.webSocketToken, lastEventId: recorder.session.lastEventId };
      recorder.session.close();
      await publishAccepted(small, core, Array.from({ length: 6 }, (_, i) => presence(ALICE, i + 2)));
      const resumed = new SessionRecorder(VoraSession.resume({ baseUrl: small.url, ...saved, WebSocket: NodeWebSocket }));
      sessions.push(resumed.session);
      await resumed.eventCount(3);
      expect(resumed.welcomes[0]).toMatchObject({ recovered: false, lastEventId: '7' });
      expect(resumed.resyncs).toEqual([{ reason: 'events-lost', welcome: resumed.welcomes[0] }]);
      expect(resumed.ids).toEqual([5, 6, 7]);
    } finally {
      sessions.splice(0).forEach((session) => session.close());
      await small.close();
    }
  });
});
