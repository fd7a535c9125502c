import { EventBufferStore } from '../src/events/event-buffer.store';
import { SubscriptionService } from '../src/subscriptions/subscription.service';
import { SessionService } from '../src/session/session.service';
import { SessionStore } from '../src/session/session.store';
import { SubscriptionStore } from '../src/subscriptions/subscription.store';
import { useClientApi } from './support/client-api';
import { ALICE, ALICE_FIXED, BOB, eventsOf } from './support/fixtures';
import { expectError, forgetSessionsAfterEach, http, openSession, TestSocket, useGateway, useSockets } from './support/harness';

describe('client REST API', () => {
  const { gateway, token, setup, subscribe, logout } = useClientApi();

  describe('POST /logout/{identity}', () => {
    it('answers 200, revokes every token of the identity and leaves other identities alone', async () => {
      const web = (await setup(ALICE, 'WEB')).body.webSocketToken;
      const desktop = (await setup(ALICE, 'DESKTOP')).body.webSocketToken;
      const other = (await setup(ALICE_FIXED, 'WEB')).body.webSocketToken;
      const result = await logout(ALICE);
      expect(result.status).toBe(200);
      const sessions = gateway.app.get(SessionService);
      expect(await sessions.authenticate(web)).toBeUndefined();
      expect(await sessions.authenticate(desktop)).toBeUndefined();
      expect(await sessions.authenticate(other)).toMatchObject({ identity: ALICE_FIXED });
    });

    it('accepts %2B for the plus', async () => {
      await setup(ALICE);
      const result = await http(`${gateway.url}/logout/%2B905321110001`, { method: 'POST', token: await token('alice') });
      expect(result.status).toBe(200);
    });

    it('answers 404 to a second logout and to a logout without a session', async () => {
      await setup(ALICE);
      expect((await logout(ALICE)).status).toBe(200);
      expectError(await logout(ALICE), 404, `there is no live session for identity ${ALICE}`);
      expectError(await logout(ALICE_FIXED), 404, `there is no live session for identity ${ALICE_FIXED}`);
    });

    it('answers 403 to an identity that is not the caller\'s', async () => {
      await setup(BOB, 'WEB', 'bob');
      expectError(await logout(BOB), 403, `identity ${BOB} is not assigned to this account`);
      expect(await gateway.app.get(SessionStore).listByUser('bob')).toHaveLength(1);
    });

    it('makes eventSubscription answer 404 afterwards', async () => {
      await setup(ALICE);
      await logout(ALICE);
      expectError(await subscribe(ALICE, { subscribeAll: true }), 404);
    });

    it('deletes the subscription: a new setup starts from subscribeAll again', async () => {
      await setup(ALICE);
      await subscribe(ALICE, { subscribeAll: false, events: ['CallDelivered'] });
      await logout(ALICE);
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toBeUndefined();
      await setup(ALICE);
      expect(await gateway.app.get(SubscriptionService).current('alice', ALICE, 'user')).toEqual({
        subscribeAll: true,
        events: eventsOf('user'),
      });
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await logout(ALICE, 'mallory'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('lets an administrator log out of its username', async () => {
      await setup('erin.admin', 'WEB', 'erin', 'vora:admin');
      expect((await logout('erin.admin', 'erin', 'vora:admin')).status).toBe(200);
    });
  });
});

describe('POST /logout/{identity} with an open socket', () => {
  const { issuer, gateway } = useGateway();
  const { track } = useSockets();
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });
  forgetSessionsAfterEach(gateway, ['alice', 'bob']);

  it('closes with 4000 on logout and then refuses the token with 401', async () => {
    const opened = await openSession(gateway, await user('alice'), { identity: ALICE });
    const bob = track(await openSession(gateway, await user('bob'), { identity: BOB }));
    const result = await http(`${gateway.url}/logout/${ALICE}`, { method: 'POST', token: await user('alice') });
    expect(result.status).toBe(200);
    expect(await opened.socket.closed()).toEqual({ code: 4000, reason: 'logged out' });
    const refusal = await TestSocket.refused(gateway, { token: opened.token });
    expect(refusal.status).toBe(401);
    expect(refusal.body).toMatchObject({ status: '401', message: 'the webSocketToken is unknown, revoked or expired' });
    // The buffer went with the session.
    const buffered = await gateway.app.get(EventBufferStore).readAfter(opened.welcome.sessionId, 0);
    expect(buffered).toEqual({ events: [], oldestId: 0, newestId: 0 });
    expect(bob.socket.isClosed).toBe(false);
  });
});
