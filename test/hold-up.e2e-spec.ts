import { createHmac } from 'node:crypto';
import { PendingCallStore } from '../src/holdup/pending-calls.store';
import { ALICE, REMOTE_PARTY } from './support/fixtures';
import { eventually, http, LogCapture, openSession, publish, setupSession, TestSocket, useGateway, useIssuer, useRedis, useSockets, WebhookReceiver } from './support/harness';

const SECRET = 'test-push-secret';

const expectSigned = (rawBody: string, header: unknown) =>
  expect(header).toBe(`sha256=${createHmac('sha256', SECRET).update(rawBody).digest('hex')}`);

const callDelivered = (callId: string, direction = 'terminating', data: Record<string, unknown> = { remoteParty: REMOTE_PARTY }) => ({
  event: 'CallDelivered',
  identity: ALICE,
  data: { callId, direction, ...data },
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** One sample's value from Prometheus text, by metric name and exact label set (0 when absent). */
const sample = (text: string, name: string, labels: string): number =>
  Number(text.split('\n').find((line) => line.startsWith(`${name}{${labels}} `))?.split(' ').pop() ?? 0);

/** An outcome report, exactly, with waitedMs between the two moments the test observed around the wait. */
function expectOutcome(body: any, expected: { event: string; callId: string; sessionId: string }, waited: { atLeast: number; atMost: number }): void {
  expect(body).toEqual({ ...expected, identity: ALICE, waitedMs: expect.any(Number), occurredAt: expect.stringMatching(ISO) });
  expect(Number.isInteger(body.waitedMs)).toBe(true);
  expect(body.waitedMs).toBeGreaterThanOrEqual(waited.atLeast);
  expect(body.waitedMs).toBeLessThanOrEqual(waited.atMost);
}

describe('holdUpMode (SPEC section 7)', () => {
  let push: WebhookReceiver;
  let platform: WebhookReceiver;
  beforeAll(async () => {
    push = await WebhookReceiver.start();
    platform = await WebhookReceiver.start();
  });
  const { issuer, gateway } = useGateway(() => ({
    PUSH_WEBHOOK_URL: push.url('/push'),
    PUSH_WEBHOOK_SECRET: SECRET,
    PLATFORM_CALLBACK_URL: platform.url('/outcomes'),
    HOLDUP_TIMEOUT_MS: '1500',
  }));
  let alice: string;
  let core: string;
  beforeAll(async () => {
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });
  // After the gateway's afterAll: the gateway stops calling them first.
  afterAll(() => Promise.all([push.close(), platform.close()]));

  const outcomeFor = async (callId: string) => (await platform.waitFor(1, (r) => r.body.callId === callId))[0];

  it('pushes a signed wake-up for a sleeping mobile session and reports ClientReady when it answers', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    const sessionId = (await TestSocket.connect(gateway, { token }).then(async ({ socket, welcome }) => {
      await socket.close();
      return welcome.sessionId;
    })) as string;

    const data = { callId: 'call-ready', direction: 'terminating', remoteParty: REMOTE_PARTY, remotePartyName: 'Ayşe Yılmaz', line: 2 };
    const publishedAt = Date.now();
    expect((await publish(gateway, core, callDelivered('call-ready', 'terminating', data))).status).toBe(202);
    const [wake] = await push.waitFor(1, (r) => r.body.callId === 'call-ready');
    expect(wake.path).toBe('/push');
    expectSigned(wake.rawBody, wake.headers['x-vora-signature']);
    // What a push relay routes on: the event's name, the caller, and the whole CallDelivered data.
    expect(Object.keys(wake.body).sort()).toEqual(['callId', 'data', 'deadline', 'event', 'identity', 'remoteParty', 'sessionId', 'sub']);
    expect(wake.body).toEqual({
      sessionId,
      sub: 'alice',
      identity: ALICE,
      callId: 'call-ready',
      event: 'CallDelivered',
      remoteParty: REMOTE_PARTY,
      data,
      deadline: expect.stringMatching(ISO),
    });
    expect(typeof sessionId).toBe('string');
    // The deadline is HOLDUP_TIMEOUT_MS after the call arrived, which was between publishing and the push.
    expect(Date.parse(wake.body.deadline)).toBeGreaterThanOrEqual(publishedAt + 1500);
    expect(Date.parse(wake.body.deadline)).toBeLessThanOrEqual(wake.at + 1500);

    // The woken app resumes, gets the buffered CallDelivered, and says it is ready.
    const { socket } = await TestSocket.connect(gateway, { token });
    const [event] = await socket.events(1);
    expect(event).toMatchObject({ event: 'CallDelivered', data });
    const readyAt = Date.now();
    socket.send({ type: 'ready', callId: 'call-ready' });

    const outcome = await outcomeFor('call-ready');
    expectSigned(outcome.rawBody, outcome.headers['x-vora-signature']);
    // The call started after publishing and before the push arrived; it settled after the ready and before the report arrived.
    expectOutcome(
      outcome.body,
      { event: 'ClientReady', callId: 'call-ready', sessionId },
      { atLeast: readyAt - wake.at, atMost: outcome.at - publishedAt },
    );

    // A second ready for a settled call is not reported again.
    socket.send({ type: 'ready', callId: 'call-ready' });
    expect(await socket.next()).toEqual({ type: 'error', message: 'call call-ready is not waiting for an answer from this session' });
    expect(platform.requests.filter((r) => r.body.callId === 'call-ready')).toHaveLength(1);
    await socket.close();
  });

  it('reports ClientDeclined when the woken app declines', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    const publishedAt = Date.now();
    await publish(gateway, core, callDelivered('call-decline'));
    const [wake] = await push.waitFor(1, (r) => r.body.callId === 'call-decline');
    const { socket, welcome } = await TestSocket.connect(gateway, { token });
    await socket.nextMatching((m) => m.type === 'event' && m.data.callId === 'call-decline');
    const declinedAt = Date.now();
    socket.send({ type: 'decline', callId: 'call-decline' });
    const outcome = await outcomeFor('call-decline');
    expectOutcome(
      outcome.body,
      { event: 'ClientDeclined', callId: 'call-decline', sessionId: welcome.sessionId },
      { atLeast: declinedAt - wake.at, atMost: outcome.at - publishedAt },
    );
    await socket.close();
  });

  it('reports ClientNotReady when the deadline passes first', async () => {
    await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    const publishedAt = Date.now();
    await publish(gateway, core, callDelivered('call-timeout'));
    const [wake] = await push.waitFor(1, (r) => r.body.callId === 'call-timeout');
    const outcome = await outcomeFor('call-timeout');
    expectOutcome(
      outcome.body,
      { event: 'ClientNotReady', callId: 'call-timeout', sessionId: wake.body.sessionId },
      { atLeast: 1500, atMost: outcome.at - publishedAt },
    );
  });

  it('pushes remoteParty null when the CallDelivered names no caller, with the data as sent', async () => {
    await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    await publish(gateway, core, callDelivered('call-anonymous', 'terminating', { remoteParty: 42 }));
    const [wake] = await push.waitFor(1, (r) => r.body.callId === 'call-anonymous');
    expect(wake.body).toEqual({
      sessionId: expect.any(String),
      sub: 'alice',
      identity: ALICE,
      callId: 'call-anonymous',
      event: 'CallDelivered',
      remoteParty: null,
      data: { callId: 'call-anonymous', direction: 'terminating', remoteParty: 42 },
      deadline: expect.stringMatching(ISO),
    });
    await outcomeFor('call-anonymous');
  });

  it('retries a push answered 503 until it is accepted', async () => {
    await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    push.answerWith(503, 503);
    await publish(gateway, core, callDelivered('call-retry'));
    const attempts = await push.waitFor(3, (r) => r.body.callId === 'call-retry');
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.rawBody)).size).toBe(1);
  });

  it('does not retry a push answered 400', async () => {
    await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    push.answerWith(400);
    await publish(gateway, core, callDelivered('call-400'));
    await outcomeFor('call-400'); // the deadline has passed: a retry would have happened by now
    expect(push.requests.filter((r) => r.body.callId === 'call-400')).toHaveLength(1);
  });

  describe('sends no push', () => {
    const noPushFor = async (callId: string) => {
      // A later call that does push proves the gateway had every chance to push the first.
      await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
      await publish(gateway, core, callDelivered(`${callId}-witness`));
      await push.waitFor(1, (r) => r.body.callId === `${callId}-witness`);
      expect(push.requests.filter((r) => r.body.callId === callId)).toHaveLength(0);
    };

    it('when the socket is open', async () => {
      const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
      const { socket } = await TestSocket.connect(gateway, { token });
      await publish(gateway, core, callDelivered('call-open'));
      await socket.nextMatching((m) => m.type === 'event' && m.data.callId === 'call-open');
      await socket.close();
      await noPushFor('call-open');
    });

    it('for a session without holdUpMode', async () => {
      await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: false });
      await publish(gateway, core, callDelivered('call-no-holdup'));
      await noPushFor('call-no-holdup');
    });

    it('for a CallDelivered that is not terminating', async () => {
      await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
      await publish(gateway, core, callDelivered('call-originating', 'originating'));
      await noPushFor('call-originating');
    });
  });
});

describe('holdUpMode webhooks follow no redirects', () => {
  let push: WebhookReceiver;
  let platform: WebhookReceiver;
  let elsewhere: WebhookReceiver;
  const logs = new LogCapture();
  beforeAll(async () => {
    [push, platform, elsewhere] = await Promise.all([WebhookReceiver.start(), WebhookReceiver.start(), WebhookReceiver.start()]);
  });
  const { issuer, gateway } = useGateway(
    () => ({
      PUSH_WEBHOOK_URL: push.url('/push'),
      PUSH_WEBHOOK_SECRET: SECRET,
      PLATFORM_CALLBACK_URL: platform.url('/outcomes'),
      HOLDUP_TIMEOUT_MS: '1500',
    }),
    { logStream: logs },
  );
  let alice: string;
  let core: string;
  beforeAll(async () => {
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });
  // After the gateway's afterAll: the gateway stops calling them first.
  afterAll(() => Promise.all([push.close(), platform.close(), elsewhere.close()]));

  const warning = (text: string | RegExp) =>
    eventually(() =>
      expect(logs.records).toContainEqual(
        expect.objectContaining({ level: 40, msg: typeof text === 'string' ? text : expect.stringMatching(text) }),
      ),
    );
  const failedPushes = async () => sample((await http(`${gateway.url}/metrics`)).body, 'vora_push_requests_total', 'result="failed"');

  it('a push webhook answering 307 is a failed push, not retried, and the call still ends ClientNotReady', async () => {
    await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    const failedBefore = await failedPushes();
    push.answerWith({ status: 307, location: elsewhere.url('/push') });
    await publish(gateway, core, callDelivered('call-push-307'));

    // Once the failure is logged the push is over: nothing more can be sent for it.
    await warning(/^call call-push-307: push to session \S+ failed: answered 307, a redirect, which is not followed after 1 attempt\(s\)$/);
    expect(push.requests.filter((r) => r.body.callId === 'call-push-307')).toHaveLength(1);
    expect(elsewhere.requests).toEqual([]);
    expect(await failedPushes()).toBe(failedBefore + 1);

    const [outcome] = await platform.waitFor(1, (r) => r.body.callId === 'call-push-307');
    expect(outcome.body).toMatchObject({ event: 'ClientNotReady', callId: 'call-push-307' });
    expect(elsewhere.requests).toEqual([]);
  });

  it('a platform callback answering 307 is not followed and not retried', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    await publish(gateway, core, callDelivered('call-callback-307'));
    await push.waitFor(1, (r) => r.body.callId === 'call-callback-307');
    platform.answerWith({ status: 307, location: elsewhere.url('/outcomes') });
    const { socket } = await TestSocket.connect(gateway, { token });
    await socket.nextMatching((m) => m.type === 'event' && m.data.callId === 'call-callback-307');
    socket.send({ type: 'ready', callId: 'call-callback-307' });

    await warning('call call-callback-307: ClientReady could not be reported: answered 307, a redirect, which is not followed');
    expect(platform.requests.filter((r) => r.body.callId === 'call-callback-307')).toHaveLength(1);
    expect(elsewhere.requests).toEqual([]);
    await socket.close();
  });
});

describe('WebSocket protocol', () => {
  const issuer = useIssuer();
  const { track } = useSockets();
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });

  describe.each([['memory'], ['redis']])('answers for calls that are not waiting (%s)', (store) => {
    const redis = store === 'redis' ? useRedis() : undefined;
    const { gateway } = useGateway(
      () => ({ WS_MESSAGE_BURST: '1000000', WS_MESSAGES_PER_SECOND: '1000000', ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}) }),
      { issuer },
    );

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
