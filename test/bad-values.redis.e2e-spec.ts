import Redis from 'ioredis';
import { hashToken } from '../src/session/session.service';
import { ALICE, BOB } from './support/fixtures';
import { asHttp, eventually, expectError, http, publishAccepted, RunningGateway, setupSession, TestSocket, useGateway, useRedis } from './support/harness';

/**
 * Values in Redis that no gateway wrote, through the real gateway (SPEC
 * section 9, issue 14): the REST call or socket answers as if the value were
 * missing, never 500 or 1011, and `vora_store_bad_values_total` counts it.
 * Each value is written by hand into the key the adapter reads.
 */
describe('a gateway on Redis holding values it did not write', () => {
  let raw: Redis;
  // Declared first, so that it runs before the Redis below is stopped.
  afterAll(() => raw?.disconnect());
  const redis = useRedis();
  const { issuer, gateway } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '200' }));
  let alice: string;
  let bob: string;
  let core: string;
  const sockets: TestSocket[] = [];

  const connect = async (options: Parameters<typeof TestSocket.connect>[1]) => {
    const opened = await TestSocket.connect(gateway, options);
    sockets.push(opened.socket);
    return opened;
  };
  /** The session a webSocketToken opens, as its pointer names it. */
  const sessionOf = async (webSocketToken: string): Promise<{ sub: string; id: string }> =>
    JSON.parse((await raw.get(`vora:tok:${hashToken(webSocketToken)}`))!);
  const badValues = async (kind: string, at: RunningGateway = gateway): Promise<number> => {
    const text: string = (await http(`${at.url}/metrics`)).body;
    const line = text.split('\n').find((l) => l.startsWith(`vora_store_bad_values_total{kind="${kind}"} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  beforeAll(async () => {
    raw = new Redis(redis.url);
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user', expiresInS: 3600 });
    bob = await issuer.sign({ sub: 'bob', scope: 'vora:user', expiresInS: 3600 });
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    await raw.flushdb();
  });

  it('a malformed session record: its token opens nothing, logout and eventSubscription find no session, setup opens anew', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE });
    const { sub, id } = await sessionOf(token);
    const before = await badValues('session');
    await raw.hset(`vora:{u:${sub}}:sessions`, id, '{"id":');

    const refusal = await TestSocket.refused(gateway, { token });
    expectError(asHttp(refusal), 401, 'the webSocketToken is unknown, revoked or expired');
    expectError(
      await http(`${gateway.url}/identity/${encodeURIComponent(ALICE)}/eventSubscription`, { token: alice, body: { subscribeAll: true } }),
      404,
      `there is no live session for identity ${ALICE}; call /identity/setup first`,
    );
    expectError(
      await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { method: 'POST', token: alice }),
      404,
      `there is no live session for identity ${ALICE}`,
    );
    const again = await setupSession(gateway, alice, { identity: ALICE });
    const { welcome } = await connect({ token: again });
    expect(welcome).toMatchObject({ type: 'welcome', identity: ALICE, lastEventId: '0' });
    expect(await badValues('session')).toBeGreaterThanOrEqual(before + 3);
  });

  it('a malformed token pointer: the token opens nothing (401)', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE });
    const before = await badValues('token-pointer');
    await raw.set(`vora:tok:${hashToken(token)}`, 'not json', 'KEEPTTL');

    expectError(asHttp(await TestSocket.refused(gateway, { token })), 401, 'the webSocketToken is unknown, revoked or expired');
    expect(await badValues('token-pointer')).toBe(before + 1);
  });

  it('a session pointer of another type: an open socket lives on, for the heartbeat reads the session record itself', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE });
    const { socket, welcome } = await connect({ token });
    await raw.del(`vora:sid:${welcome.sessionId}`);
    await raw.hset(`vora:sid:${welcome.sessionId}`, 'sub', 'alice');
    // Two protocol pings: a whole heartbeat, with its session refresh, has passed since the pointer broke.
    await new Promise<void>((resolve) => {
      let pings = 0;
      socket.socket.on('ping', () => ++pings === 2 && resolve());
    });

    await publishAccepted(gateway, core, { event: 'VoicemailWaiting', identity: ALICE, data: { count: 1 } });
    expect(await socket.nextEvent()).toMatchObject({ id: '1', identity: ALICE, data: { count: 1 } });
    expect(socket.isClosed).toBe(false);
  });

  it("an identity index of another type: POST /events answers 202, and the batch's other identities get their events", async () => {
    const aliceSocket = (await connect({ token: await setupSession(gateway, alice, { identity: ALICE }) })).socket;
    const bobSocket = (await connect({ token: await setupSession(gateway, bob, { identity: BOB }) })).socket;
    const before = await badValues('identity-index');
    await raw.del(`vora:idn:${ALICE}`);
    await raw.set(`vora:idn:${ALICE}`, 'alice');

    await publishAccepted(gateway, core, [
      { event: 'VoicemailWaiting', identity: ALICE, data: { count: 1 } },
      { event: 'VoicemailWaiting', identity: BOB, data: { count: 2 } },
    ]);
    expect(await bobSocket.nextEvent()).toMatchObject({ id: '1', identity: BOB, data: { count: 2 } });
    expect(aliceSocket.pending()).toEqual([]);
    expect(await badValues('identity-index')).toBe(before + 1);
  });

  it('a malformed subscription: the socket opens with the default subscription and receives events', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE });
    const before = await badValues('subscription');
    await raw.set(`vora:{u:alice}:sub:${ALICE}`, '{"subscribeAll":"maybe"}', 'KEEPTTL');

    const { socket, welcome } = await connect({ token });
    expect(welcome.subscription).toMatchObject({ subscribeAll: true });
    await publishAccepted(gateway, core, { event: 'VoicemailWaiting', identity: ALICE, data: { count: 1 } });
    expect(await socket.nextEvent()).toMatchObject({ id: '1', event: 'VoicemailWaiting' });
    expect(await badValues('subscription')).toBeGreaterThan(before);
  });

  it('malformed buffer meta: the socket resumes from what the buffer holds, and ids go on after it', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE });
    const first = await connect({ token });
    const sessionId: string = first.welcome.sessionId;
    const seqEvents = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ event: 'PresenceChanged', identity: ALICE, data: { seq: from + i } }));
    await publishAccepted(gateway, core, seqEvents(1, 3));
    expect((await first.socket.events(3)).map((e) => e.id)).toEqual(['1', '2', '3']);
    await first.socket.close();
    // The close records what was written; corrupt the marker only after that, or the record would repair it first.
    await eventually(async () => expect(await raw.hget(`vora:{s:${sessionId}}:meta`, 'written')).toBe('3'));
    const before = await badValues('buffer-meta');
    await raw.hset(`vora:{s:${sessionId}}:meta`, 'written', 'x');

    // Without lastEventId: after the written marker, read as 0.
    const { socket, welcome } = await connect({ token });
    expect(welcome).toMatchObject({ lastEventId: '3', recovered: true });
    expect((await socket.events(3)).map((e) => [e.id, e.data.seq])).toEqual([['1', 1], ['2', 2], ['3', 3]]);
    await publishAccepted(gateway, core, seqEvents(4, 1));
    expect(await socket.nextEvent()).toMatchObject({ id: '4', data: { seq: 4 } });
    expect(socket.pending()).toEqual([]);
    expect(await badValues('buffer-meta')).toBeGreaterThanOrEqual(before + 1);
  });

  it('a malformed pending call: the socket opens, and a ready for it is answered as for a call that is not waiting', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    const { id: sessionId } = await sessionOf(token);
    await raw.set('vora:call:call-7', '{"callId":"call-7","sessionIds":', 'PX', 60_000);
    await raw.sadd(`vora:calls:session:${sessionId}`, 'call-7');
    await raw.zadd('vora:calls:due', Date.now() + 60_000, 'call-7');
    const before = await badValues('pending-call');

    const { socket } = await connect({ token });
    socket.send({ type: 'ready', callId: 'call-7' });
    expect(await socket.next()).toEqual({ type: 'error', message: 'call call-7 is not waiting for an answer from this session' });
    expect(socket.isClosed).toBe(false);
    expect(await badValues('pending-call')).toBeGreaterThanOrEqual(before + 2);
  });

  describe('with RATE_LIMIT_PER_MINUTE=3', () => {
    const { gateway: limited } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '3' }), { issuer });

    it.each([
      ['not a count', (key: string) => raw.set(key, 'lots')],
      ['of another type', (key: string) => raw.sadd(key, '1')],
    ])('a rate-limit counter that is %s is reset and the limit still holds', async (_what, corrupt) => {
      await corrupt('vora:rl:{bob}:api');
      const before = await badValues('rate-limit-counter', limited);
      const identity = () => http(`${limited.url}/identity`, { token: bob });
      for (let i = 0; i < 3; i++) expect((await identity()).status).toBe(200);
      const refused = await identity();
      expectError(refused, 429, /^rate limit exceeded: at most 3 requests per minute per caller; retry in \d+ s$/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await badValues('rate-limit-counter', limited)).toBe(before + 1);
    });
  });
});
