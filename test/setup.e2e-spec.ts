import { SubscriptionService } from '../src/subscriptions/subscription.service';
import { SessionService } from '../src/session/session.service';
import { SessionStore } from '../src/session/session.store';
import { SubscriptionStore } from '../src/subscriptions/subscription.store';
import { useClientApi } from './support/client-api';
import { ALICE, ALICE_FIXED, BOB, eventsOf, OSCAR, OSCAR_FIXED } from './support/fixtures';
import { expectError, http, useGateway } from './support/harness';

describe('client REST API', () => {
  const { gateway, post, setup, subscribe, logout } = useClientApi();

  describe('POST /identity/setup', () => {
    it('answers 200 (not 201) with a 256-bit webSocketToken', async () => {
      const result = await setup(ALICE);
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys(result.body)).toEqual(['webSocketToken']);
      expect(result.body.webSocketToken).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    });

    it('gives every setup a different token', async () => {
      const first = await setup(ALICE, 'WEB');
      const second = await setup(ALICE, 'DESKTOP');
      const third = await setup(ALICE, 'WEB');
      const tokens = new Set([first.body.webSocketToken, second.body.webSocketToken, third.body.webSocketToken]);
      expect(tokens.size).toBe(3);
    });

    it('stores the token only as a hash', async () => {
      const { webSocketToken } = (await setup(ALICE)).body;
      const sessions = await gateway.app.get(SessionStore).listByUser('alice');
      expect(sessions).toHaveLength(1);
      for (const value of Object.values(sessions[0])) expect(value).not.toBe(webSocketToken);
      expect(JSON.stringify(sessions)).not.toContain(webSocketToken);
      expect(sessions[0]).toMatchObject({ sub: 'alice', identity: ALICE, connectionType: 'WEB', holdUpMode: false, mode: 'user' });
      // The token opens the session through its hash.
      const session = await gateway.app.get(SessionService).authenticate(webSocketToken);
      expect(session?.id).toBe(sessions[0].id);
    });

    it.each(['WEB', 'DESKTOP', 'MOBILE'])('accepts connectionType %s', async (connectionType) => {
      expect((await setup(ALICE, connectionType)).status).toBe(200);
    });

    it('lets an OTT caller set up its fixed number and an admin its username', async () => {
      expect((await setup(OSCAR_FIXED, 'MOBILE', 'oscar', 'vora:ott')).status).toBe(200);
      expect((await setup('erin.admin', 'WEB', 'erin', 'vora:admin')).status).toBe(200);
    });

    it('answers 400 to an invalid connectionType', async () => {
      expectError(await setup(ALICE, 'TELEX'), 400, 'invalid request body: connectionType must be one of WEB, DESKTOP, MOBILE');
      expectError(await setup(ALICE, 'web'), 400, /connectionType must be one of WEB, DESKTOP, MOBILE/);
    });

    it('answers 400 to a missing connectionType or identity', async () => {
      expectError(await post('/identity/setup', { identity: ALICE }), 400, /connectionType must be one of/);
      const result = await post('/identity/setup', { connectionType: 'WEB' });
      expectError(result, 400, /identity must be a string/);
      expect(result.body.error).toBe('Bad Request');
    });

    it('answers 400 naming an unknown field', async () => {
      expectError(await setup(ALICE, 'WEB', 'alice', 'vora:user', { pushToken: 'x' }), 400, 'invalid request body: unknown field "pushToken"');
    });

    it('answers 400 to a holdUpMode that is not a boolean', async () => {
      expectError(await setup(ALICE, 'MOBILE', 'alice', 'vora:user', { holdUpMode: 'yes' }), 400, /holdUpMode must be a boolean/);
    });

    it('answers 403 to an identity that is not the caller\'s', async () => {
      expectError(await setup(BOB), 403, `identity ${BOB} is not assigned to this account`);
      // An OTT caller may use only its fixed number.
      expectError(await setup(OSCAR, 'WEB', 'oscar', 'vora:ott'), 403, 'identity +905321110005 is not assigned to this account');
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await setup(ALICE, 'WEB', 'mallory'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('allows holdUpMode only with MOBILE', async () => {
      expectError(await setup(ALICE, 'WEB', 'alice', 'vora:user', { holdUpMode: true }), 400, 'holdUpMode is allowed only with connectionType MOBILE');
      expectError(await setup(ALICE, 'DESKTOP', 'alice', 'vora:user', { holdUpMode: true }), 400, 'holdUpMode is allowed only with connectionType MOBILE');
      expect((await setup(ALICE, 'WEB', 'alice', 'vora:user', { holdUpMode: false })).status).toBe(200);
      expect((await setup(ALICE, 'MOBILE', 'alice', 'vora:user', { holdUpMode: true })).status).toBe(200);
      const [mobile] = (await gateway.app.get(SessionStore).listByUser('alice')).filter((s) => s.connectionType === 'MOBILE');
      expect(mobile.holdUpMode).toBe(true);
    });

    it('replaces the session with the same key and revokes the old token', async () => {
      const first = (await setup(ALICE, 'WEB')).body.webSocketToken;
      const second = (await setup(ALICE, 'WEB')).body.webSocketToken;
      const sessions = gateway.app.get(SessionService);
      expect(await sessions.authenticate(first)).toBeUndefined();
      expect(await sessions.authenticate(second)).toBeDefined();
      expect(await gateway.app.get(SessionStore).listByUser('alice')).toHaveLength(1);
    });

    it('keeps one session per key when replacements race', async () => {
      await setup(ALICE, 'WEB');
      const results = await Promise.all([1, 2, 3, 4].map(() => setup(ALICE, 'WEB')));
      for (const result of results) expect(result.status).toBe(200);
      const live = await gateway.app.get(SessionStore).listByUser('alice');
      expect(live).toHaveLength(1);
      // Only the token of the surviving session opens it.
      const sessions = gateway.app.get(SessionService);
      const opened = await Promise.all(results.map((r) => sessions.authenticate(r.body.webSocketToken)));
      expect(opened.filter(Boolean).map((s) => s!.id)).toEqual([live[0].id]);
    });

    it('creates the subscription as subscribeAll', async () => {
      await setup(ALICE);
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toEqual({ subscribeAll: true, events: [] });
      expect(await gateway.app.get(SubscriptionService).current('alice', ALICE, 'user')).toEqual({
        subscribeAll: true,
        events: eventsOf('user'),
      });
    });

    it('keeps an existing subscription on a second setup of the identity', async () => {
      await setup(ALICE, 'WEB');
      expect((await subscribe(ALICE, { subscribeAll: false, events: ['CallDelivered'] })).status).toBe(200);
      await setup(ALICE, 'DESKTOP');
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toEqual({ subscribeAll: false, events: ['CallDelivered'] });
      await logout(ALICE);
    });
  });
});

describe('MAX_SESSIONS_PER_USER', () => {
  const { issuer, gateway } = useGateway({ MAX_SESSIONS_PER_USER: '2' });
  const setup = async (identity: string, connectionType: string) =>
    http(`${gateway.url}/identity/setup`, { token: await issuer.sign({ sub: 'alice' }), body: { connectionType, identity } });

  it('answers 409 past the limit, replaces without counting twice, and frees a place on logout', async () => {
    expect((await setup(ALICE, 'WEB')).status).toBe(200);
    expect((await setup(ALICE, 'DESKTOP')).status).toBe(200);
    expectError(
      await setup(ALICE, 'MOBILE'),
      409,
      'this account already has 2 live sessions, the most allowed; log out of one before opening another',
    );
    expectError(await setup(ALICE_FIXED, 'WEB'), 409);
    // Same (identity, connectionType): a replacement, not a third session.
    expect((await setup(ALICE, 'WEB')).status).toBe(200);
    expect((await setup(ALICE, 'DESKTOP')).status).toBe(200);
    expect(await gateway.app.get(SessionStore).listByUser('alice')).toHaveLength(2);
    // Another user has its own count.
    const bob = await http(`${gateway.url}/identity/setup`, {
      token: await issuer.sign({ sub: 'bob' }),
      body: { connectionType: 'WEB', identity: BOB },
    });
    expect(bob.status).toBe(200);

    const logout = await http(`${gateway.url}/logout/${ALICE}`, { method: 'POST', token: await issuer.sign({ sub: 'alice' }) });
    expect(logout.status).toBe(200);
    expect((await setup(ALICE_FIXED, 'WEB')).status).toBe(200);
    expect((await setup(ALICE_FIXED, 'MOBILE')).status).toBe(200);
    expectError(await setup(ALICE_FIXED, 'DESKTOP'), 409);
  });
});
