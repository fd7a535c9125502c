import { createHmac } from 'node:crypto';
import { RunningGateway, startGateway } from './support/gateway';
import { TestIssuer } from './support/test-issuer';
import { WebhookReceiver } from './support/webhook-receiver';
import { publish, setupSession, TestSocket } from './support/ws-client';

const SECRET = 'test-push-secret';
const ALICE = '+905321110001';

const expectSigned = (rawBody: string, header: unknown) =>
  expect(header).toBe(`sha256=${createHmac('sha256', SECRET).update(rawBody).digest('hex')}`);

const callDelivered = (callId: string, direction = 'terminating') => ({
  event: 'CallDelivered',
  identity: ALICE,
  data: { callId, direction, remoteParty: '+905551112233' },
});

describe('holdUpMode (SPEC section 7)', () => {
  let issuer: TestIssuer;
  let push: WebhookReceiver;
  let platform: WebhookReceiver;
  let gateway: RunningGateway;
  let alice: string;
  let core: string;

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    push = await WebhookReceiver.start();
    platform = await WebhookReceiver.start();
    gateway = await startGateway({
      ...issuer.env(),
      PUSH_WEBHOOK_URL: push.url('/push'),
      PUSH_WEBHOOK_SECRET: SECRET,
      PLATFORM_CALLBACK_URL: platform.url('/outcomes'),
      HOLDUP_TIMEOUT_MS: '1500',
    });
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });

  afterAll(async () => {
    await gateway.close();
    await Promise.all([issuer.close(), push.close(), platform.close()]);
  });

  const outcomeFor = async (callId: string) => (await platform.waitFor(1, (r) => r.body.callId === callId))[0];

  it('pushes a signed wake-up for a sleeping mobile session and reports ClientReady when it answers', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    const sessionId = (await TestSocket.connect(gateway, { token }).then(async ({ socket, welcome }) => {
      await socket.close();
      return welcome.sessionId;
    })) as string;

    expect((await publish(gateway, core, callDelivered('call-ready'))).status).toBe(202);
    const [wake] = await push.waitFor(1, (r) => r.body.callId === 'call-ready');
    expect(wake.path).toBe('/push');
    expectSigned(wake.rawBody, wake.headers['x-vora-signature']);
    expect(Object.keys(wake.body).sort()).toEqual(['callId', 'deadline', 'event', 'identity', 'sessionId', 'sub']);
    expect(wake.body).toMatchObject({ sessionId, sub: 'alice', identity: ALICE, callId: 'call-ready' });
    expect(wake.body.event).toMatchObject({ type: 'event', event: 'CallDelivered', data: { remoteParty: '+905551112233' } });
    expect(new Date(wake.body.deadline).toISOString()).toBe(wake.body.deadline);

    // The woken app resumes, gets the buffered CallDelivered, and says it is ready.
    const { socket } = await TestSocket.connect(gateway, { token });
    const [event] = await socket.events(1);
    expect(event).toMatchObject({ event: 'CallDelivered', data: { callId: 'call-ready' } });
    socket.send({ type: 'ready', callId: 'call-ready' });

    const outcome = await outcomeFor('call-ready');
    expectSigned(outcome.rawBody, outcome.headers['x-vora-signature']);
    expect(Object.keys(outcome.body).sort()).toEqual(['callId', 'event', 'identity', 'occurredAt', 'sessionId', 'waitedMs']);
    expect(outcome.body).toMatchObject({ event: 'ClientReady', callId: 'call-ready', identity: ALICE, sessionId });
    expect(outcome.body.waitedMs).toBeGreaterThanOrEqual(0);

    // A second ready for a settled call is not reported again.
    socket.send({ type: 'ready', callId: 'call-ready' });
    expect(await socket.next()).toEqual({ type: 'error', message: 'call call-ready is not waiting for an answer from this session' });
    expect(platform.requests.filter((r) => r.body.callId === 'call-ready')).toHaveLength(1);
    await socket.close();
  });

  it('reports ClientDeclined when the woken app declines', async () => {
    const token = await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    await publish(gateway, core, callDelivered('call-decline'));
    await push.waitFor(1, (r) => r.body.callId === 'call-decline');
    const { socket } = await TestSocket.connect(gateway, { token });
    await socket.nextMatching((m) => m.type === 'event' && m.data.callId === 'call-decline');
    socket.send({ type: 'decline', callId: 'call-decline' });
    expect((await outcomeFor('call-decline')).body.event).toBe('ClientDeclined');
    await socket.close();
  });

  it('reports ClientNotReady when the deadline passes first', async () => {
    await setupSession(gateway, alice, { identity: ALICE, connectionType: 'MOBILE', holdUpMode: true });
    await publish(gateway, core, callDelivered('call-timeout'));
    const outcome = await outcomeFor('call-timeout');
    expect(outcome.body.event).toBe('ClientNotReady');
    expect(outcome.body.waitedMs).toBeGreaterThanOrEqual(1500);
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
