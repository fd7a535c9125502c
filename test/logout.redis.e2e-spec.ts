import { ALICE } from './support/fixtures';
import { http, publish, setupSession, TestSocket, useGateway, useIssuer, useRedis } from './support/harness';

/** Found by the soak test: another instance must not route with a subscription a logout deleted. */
describe('subscription caches across instances', () => {
  const redis = useRedis();
  const issuer = useIssuer();
  const { gateway: a } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url }), { issuer });
  const { gateway: b } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url }), { issuer });

  it('forgets a narrowed subscription on every instance when the session logs out', async () => {
    const alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
    await setupSession(a, alice, { identity: ALICE });
    const narrowed = await http(`${a.url}/identity/${encodeURIComponent(ALICE)}/eventSubscription`, {
      token: alice,
      body: { subscribeAll: false, events: ['CallCleared'] },
    });
    expect(narrowed.status).toBe(200);
    // B routes once with the narrowed subscription, and caches it.
    expect((await publish(b, core, { event: 'PresenceChanged', identity: ALICE, data: { n: 0 } })).status).toBe(202);

    expect((await http(`${a.url}/logout/${encodeURIComponent(ALICE)}`, { method: 'POST', token: alice })).status).toBe(200);
    const token = await setupSession(a, alice, { identity: ALICE });
    const { socket, welcome } = await TestSocket.connect(a, { token });
    expect(welcome.subscription.subscribeAll).toBe(true);

    expect((await publish(b, core, { event: 'PresenceChanged', identity: ALICE, data: { n: 1 } })).status).toBe(202);
    expect(await socket.next()).toMatchObject({ type: 'event', id: '1', event: 'PresenceChanged', data: { n: 1 } });
    await socket.close();
  });
});
