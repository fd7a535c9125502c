import { hashToken } from '../src/session/session.service';
import { SessionStore } from '../src/session/session.store';
import { ALICE, ALICE_FIXED } from './support/fixtures';
import { eventually, expectError, faultTestsUnsupported, freePort, http, RunningGateway, startGateway, useGateway, useIssuer, useRedis } from './support/harness';

/** The REST operations with STORE=redis, and two gateways sharing one Redis. */
describe('REST on Redis', () => {
  const redis = useRedis();
  const issuer = useIssuer();
  const { gateway: a } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url }), { issuer });
  const { gateway: b } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url }), { issuer });
  let alice: string;

  const setup = (gateway: RunningGateway, identity: string, connectionType = 'WEB') =>
    http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType, identity } });
  const subscribe = (gateway: RunningGateway, identity: string, body: unknown) =>
    http(`${gateway.url}/identity/${encodeURIComponent(identity)}/eventSubscription`, { token: alice, body });
  const logout = (gateway: RunningGateway, identity: string) =>
    http(`${gateway.url}/logout/${encodeURIComponent(identity)}`, { method: 'POST', token: alice });
  const readiness = (gateway: RunningGateway) => http(`${gateway.url}/health/readiness`);

  beforeAll(async () => {
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user', expiresInS: 3600 });
    // Ready means keys loaded and Redis answering: what a load balancer waits for.
    for (const gateway of [a, b]) await eventually(async () => expect((await readiness(gateway)).status).toBe(204));
  });

  it('sets up, changes the subscription and logs out through Redis', async () => {
    const setupResult = await setup(a, ALICE);
    expect(setupResult.status).toBe(200);
    const token: string = setupResult.body.webSocketToken;
    const session = await a.app.get(SessionStore).findByTokenHash(hashToken(token));
    expect(session).toMatchObject({ sub: 'alice', identity: ALICE, connectionType: 'WEB' });

    const changed = await subscribe(a, ALICE, { subscribeAll: false, events: ['CallDelivered'] });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ subscribeAll: false, events: ['CallDelivered'] });

    expect((await logout(a, ALICE)).status).toBe(200);
    expect(await a.app.get(SessionStore).findByTokenHash(hashToken(token))).toBeUndefined();
    expectError(await logout(a, ALICE), 404);
  });

  it('shares sessions between two gateways: setup on A, subscription and logout on B', async () => {
    const setupResult = await setup(a, ALICE_FIXED, 'DESKTOP');
    expect(setupResult.status).toBe(200);
    const tokenHash = hashToken(setupResult.body.webSocketToken);
    expect(await b.app.get(SessionStore).findByTokenHash(tokenHash)).toMatchObject({ identity: ALICE_FIXED });

    const changed = await subscribe(b, ALICE_FIXED, { subscribeAll: true });
    expect(changed.status).toBe(200);
    expect(changed.body.subscribeAll).toBe(true);
    expect(changed.body.events).toContain('CallDelivered');

    expect((await logout(b, ALICE_FIXED)).status).toBe(200);
    expectError(await logout(a, ALICE_FIXED), 404);
    expectError(await subscribe(a, ALICE_FIXED, { subscribeAll: true }), 404);
    expect(await a.app.get(SessionStore).findByTokenHash(tokenHash)).toBeUndefined();
  });

  it('stays alive and answers 503 while Redis is down, and is ready again once it is back', async () => {
    const skip = faultTestsUnsupported(redis);
    if (skip) return console.warn(`Redis stop/start test ${skip}`);

    await redis.stop();

    expect((await http(`${a.url}/health/liveness`)).status).toBe(204);
    await eventually(async () => expectError(await readiness(a), 503, /store/));
    expectError(await setup(a, ALICE), 503, 'the session store is unavailable; retry shortly');
    expectError(await subscribe(b, ALICE, { subscribeAll: true }), 503);
    expectError(await logout(b, ALICE), 503);
    expect((await http(`${b.url}/health/liveness`)).status).toBe(204);

    await redis.start();

    for (const gateway of [a, b]) {
      await eventually(async () => expect((await readiness(gateway)).status).toBe(204), { timeoutMs: 20_000, intervalMs: 100 });
    }
    expect((await setup(b, ALICE)).status).toBe(200);
    expect((await logout(a, ALICE)).status).toBe(200);
  });

  it('starts while Redis is unreachable: alive, not ready, 503 instead of hanging', async () => {
    // Nothing listens on a port that was just free.
    const deadUrl = `redis://127.0.0.1:${await freePort()}`;
    const lonely = await startGateway({ ...issuer.env(), STORE: 'redis', REDIS_URL: deadUrl });
    try {
      expect((await http(`${lonely.url}/health/liveness`)).status).toBe(204);
      expectError(await readiness(lonely), 503, /store/);
      expectError(await setup(lonely, ALICE), 503, 'the session store is unavailable; retry shortly');
    } finally {
      await lonely.close();
    }
  });
});

