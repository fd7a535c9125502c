import { ALICE, ALICE_FIXED, REMOTE_PARTY } from './support/fixtures';
import { http, setupSession, TestSocket, useGatewayProcess, useIssuer, useRedis, useRedisCluster, useWebhookReceiver } from './support/harness';

const SECRET = 'test-push-secret';

/** holdUpMode with two instances on one Redis, and on a Redis Cluster: one push and one outcome per call. */
describe.each(['redis', 'redis cluster'] as const)('holdUpMode on %s with two instances', (topology) => {
  const redis = topology === 'redis' ? useRedis() : useRedisCluster();
  const issuer = useIssuer();
  const push = useWebhookReceiver();
  const platform = useWebhookReceiver();
  const env = () => ({
    ...redis.env(),
    PUSH_WEBHOOK_URL: push.url('/push'),
    PUSH_WEBHOOK_SECRET: SECRET,
    PLATFORM_CALLBACK_URL: platform.url('/outcomes'),
    HOLDUP_TIMEOUT_MS: '1500',
  });
  const a = useGatewayProcess(env, { issuer, signal: 'SIGTERM' });
  const b = useGatewayProcess(env, { issuer, signal: 'SIGTERM' });

  const callDelivered = (callId: string, identity = ALICE) => ({
    event: 'CallDelivered',
    identity,
    data: { callId, direction: 'terminating', remoteParty: REMOTE_PARTY },
  });

  it('pushes once and reports each call once, whichever instance routes, answers or times out', async () => {
    const alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
    const token = await setupSession(a, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });

    // Two calls nobody answers, routed by different instances: both instances sweep deadlines.
    expect((await http(`${a.url}/events`, { token: core, body: callDelivered('timeout-a') })).status).toBe(202);
    expect((await http(`${b.url}/events`, { token: core, body: callDelivered('timeout-b') })).status).toBe(202);
    // One call routed by A and answered on a socket held by B.
    const publishedAt = Date.now();
    expect((await http(`${a.url}/events`, { token: core, body: callDelivered('ready-b') })).status).toBe(202);
    const [wake] = await push.waitFor(1, (r) => r.body.callId === 'ready-b');
    const { socket, welcome } = await TestSocket.connect(b.wsUrl, { token });
    // The push a relay routes: the event's name, the caller and the whole CallDelivered data, whichever instance sends it.
    expect(Object.keys(wake.body).sort()).toEqual(['callId', 'data', 'deadline', 'event', 'identity', 'remoteParty', 'sessionId', 'sub']);
    expect(wake.body).toEqual({
      sessionId: welcome.sessionId,
      sub: 'alice',
      identity: ALICE,
      callId: 'ready-b',
      event: 'CallDelivered',
      remoteParty: REMOTE_PARTY,
      data: callDelivered('ready-b').data,
      deadline: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(typeof welcome.sessionId).toBe('string');
    expect(Date.parse(wake.body.deadline)).toBeGreaterThanOrEqual(publishedAt + 1500);
    expect(Date.parse(wake.body.deadline)).toBeLessThanOrEqual(wake.at + 1500);
    await socket.nextMatching((m) => m.type === 'event' && m.data.callId === 'ready-b');
    socket.send({ type: 'ready', callId: 'ready-b' });

    const outcomes = await platform.waitFor(3, () => true, 10_000);
    const byCall = (callId: string) => outcomes.filter((o) => o.body.callId === callId).map((o) => o.body.event);
    expect(byCall('ready-b')).toEqual(['ClientReady']);
    expect(byCall('timeout-a')).toEqual(['ClientNotReady']);
    expect(byCall('timeout-b')).toEqual(['ClientNotReady']);

    // Sentinels instead of a sleep: a call routed by each instance after the others settled, to a session that never
    // connects. Their outcomes come a whole HOLDUP_TIMEOUT_MS later, after many deadline sweeps of both instances
    // (one every 200 ms), so a duplicate push or outcome of an earlier call would have arrived first.
    await setupSession(b, alice, { identity: ALICE_FIXED, connectionType: 'MOBILE', holdUpMode: true });
    expect((await http(`${a.url}/events`, { token: core, body: callDelivered('sentinel-a', ALICE_FIXED) })).status).toBe(202);
    expect((await http(`${b.url}/events`, { token: core, body: callDelivered('sentinel-b', ALICE_FIXED) })).status).toBe(202);
    await platform.waitFor(2, (o) => o.body.callId.startsWith('sentinel-'), 10_000);
    for (const callId of ['timeout-a', 'timeout-b', 'ready-b', 'sentinel-a', 'sentinel-b']) {
      expect(push.requests.filter((r) => r.body.callId === callId)).toHaveLength(1);
      expect(platform.requests.filter((r) => r.body.callId === callId)).toHaveLength(1);
    }
    await socket.close();
  });
});
