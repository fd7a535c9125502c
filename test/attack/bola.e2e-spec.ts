import { SessionStore } from '../../src/session/session.store';
import { SubscriptionStore } from '../../src/subscriptions/subscription.store';
import { rawRequest } from './attack-kit';
import { ALICE, BOB, REMOTE_PARTY, SAMPLE_DIRECTORY } from '../support/fixtures';
import { expectError, http, HttpResult, publish, setupSession, TestSocket, useGateway } from '../support/harness';

/**
 * Broken object level authorization: every user of the sample directory tries
 * every identity that is not theirs, on every route that names an identity,
 * while the owners hold live sessions and sockets. Nothing may change for them.
 */

type DirectoryUser = (typeof SAMPLE_DIRECTORY.users)[number];
const DIRECTORY = SAMPLE_DIRECTORY.users;

/** The mode each sample user logs in with, and so the identities each may use (SPEC section 1). */
const MODES: Record<string, 'user' | 'manager' | 'ott' | 'admin'> = {
  alice: 'user',
  bob: 'user',
  carol: 'manager',
  dave: 'user',
  oscar: 'ott',
  erin: 'admin',
};
const usable = (user: DirectoryUser): string[] => {
  const mode = MODES[user.sub];
  if (mode === 'admin') return [user.username];
  if (mode === 'ott') return user.fixedNumber ? [user.fixedNumber] : [];
  return user.identities;
};
/** Every identity string the directory knows: numbers, fixed numbers and usernames. */
const EVERY_IDENTITY = [...new Set(DIRECTORY.flatMap((u) => [...u.identities, ...(u.fixedNumber ? [u.fixedNumber] : []), u.username, u.sub]))];

const VICTIM_EVENTS = ['CallDelivered', 'CallCleared'];

describe('attack: broken object level authorization', () => {
  const { issuer, gateway } = useGateway({ RATE_LIMIT_PER_MINUTE: '100000' });
  let platform: string;
  /** One live socket per (owner, identity) that can receive events. */
  const victims: Array<{ sub: string; identity: string; socket: TestSocket }> = [];
  const sessionCounts = new Map<string, number>();

  const tokenOf = (sub: string) => issuer.sign({ sub, scope: `vora:${MODES[sub]}` });
  const forbiddenIdentity = (result: HttpResult, identity: string) => {
    expectError(result, 403, `identity ${identity} is not assigned to this account`);
    expect(result.body.error).toBe('Forbidden');
  };

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'telephony-core', scope: 'vora:events:publish' });
    for (const user of DIRECTORY) {
      const token = await tokenOf(user.sub);
      for (const identity of usable(user)) {
        const webSocketToken = await setupSession(gateway, token, { identity, connectionType: 'WEB' });
        if (MODES[user.sub] !== 'admin') {
          // A subscription an attacker's change would visibly replace.
          const changed = await http(`${gateway.url}/identity/${encodeURIComponent(identity)}/eventSubscription`, {
            token,
            body: { subscribeAll: false, events: VICTIM_EVENTS },
          });
          expect(changed.status).toBe(200);
        }
        const { socket, welcome } = await TestSocket.connect(gateway, { token: webSocketToken });
        expect(welcome.identity).toBe(identity);
        victims.push({ sub: user.sub, identity, socket });
      }
      sessionCounts.set(user.sub, (await gateway.app.get(SessionStore).listByUser(user.sub)).length);
    }
  });
  afterAll(async () => {
    for (const { socket } of victims) await socket.close();
  });

  describe.each(DIRECTORY.map((user) => [user.sub, user] as const))('%s as the attacker', (_sub, attacker) => {
    const foreign = EVERY_IDENTITY.filter((identity) => !usable(attacker).includes(identity));

    it('gets 403 from setup for every identity that is not its own', async () => {
      const token = await tokenOf(attacker.sub);
      for (const identity of foreign) {
        for (const connectionType of ['WEB', 'MOBILE']) {
          forbiddenIdentity(await http(`${gateway.url}/identity/setup`, { token, body: { connectionType, identity } }), identity);
        }
      }
    });

    it('gets 403 from eventSubscription for every identity that is not its own, written with + and with %2B', async () => {
      const token = await tokenOf(attacker.sub);
      for (const identity of foreign) {
        for (const path of [encodeURIComponent(identity), identity]) {
          const result = await http(`${gateway.url}/identity/${path}/eventSubscription`, {
            token,
            body: { subscribeAll: false, events: ['CallOriginated'] },
          });
          if (MODES[attacker.sub] === 'admin') {
            // Administrators may not subscribe at all: the guard refuses before the identity is looked at.
            expectError(result, 403, /^the access token has insufficient scope/);
          } else {
            forbiddenIdentity(result, identity);
          }
        }
      }
    });

    it('gets 403 from logout for every identity that is not its own, written with + and with %2B', async () => {
      const token = await tokenOf(attacker.sub);
      for (const identity of foreign) {
        for (const path of [encodeURIComponent(identity), identity]) {
          forbiddenIdentity(await http(`${gateway.url}/logout/${path}`, { token, method: 'POST' }), identity);
        }
      }
    });
  });

  describe('path tricks (bob aims at alice; alice herself must not be let in by them either)', () => {
    const aliceSubscription = () => gateway.app.get(SubscriptionStore).get('alice', ALICE);
    const tricks: Array<[string, string, number, string | RegExp]> = [
      ['double-encoded plus', '%252B905321110001', 403, 'identity %2B905321110001 is not assigned to this account'],
      ['fullwidth plus U+FF0B', '%EF%BC%8B905321110001', 403, 'identity \uff0b905321110001 is not assigned to this account'],
      ['superscript plus U+207A', '%E2%81%BA905321110001', 403, 'identity \u207a905321110001 is not assigned to this account'],
      ['subscript plus U+208A', '%E2%82%8A905321110001', 403, 'identity \u208a905321110001 is not assigned to this account'],
      ['Hebrew alternative plus U+FB29', '%EF%AC%A9905321110001', 403, 'identity \ufb29905321110001 is not assigned to this account'],
      ['heavy plus U+2795', '%E2%9E%95905321110001', 403, 'identity \u2795905321110001 is not assigned to this account'],
      ['fullwidth digits', '%2B%EF%BC%99%EF%BC%90905321110001', 403, /is not assigned to this account$/],
      ['overlong UTF-8 plus (C0 AB)', '%C0%AB905321110001', 400, 'a path parameter is not valid percent-encoded UTF-8'],
      ['a leading space', '%20%2B905321110001', 403, 'identity  +905321110001 is not assigned to this account'],
      ['a trailing space', '%2B905321110001%20', 403, 'identity +905321110001  is not assigned to this account'],
      ['a trailing line feed', '%2B905321110001%0A', 403, 'identity +905321110001\n is not assigned to this account'],
      ['a trailing NUL', '%2B905321110001%00', 403, 'identity +905321110001\u0000 is not assigned to this account'],
      ['a matrix parameter', '%2B905321110001;x=1', 403, 'identity +905321110001;x=1 is not assigned to this account'],
      ['00 instead of +', '00905321110001', 403, 'identity 00905321110001 is not assigned to this account'],
      ['.. as the identity', '..', 403, 'identity .. is not assigned to this account'],
      ['encoded .. as the identity', '%2E%2E', 403, 'identity .. is not assigned to this account'],
      ['encoded ../ segments', '..%2F..%2Flogout%2F%2B905321110001', 403, 'identity ../../logout/+905321110001 is not assigned to this account'],
      ['own number then encoded ../victim', '%2B905321110002%2F..%2F%2B905321110001', 403, /^identity \+905321110002\/\.\.\/\+905321110001 is not assigned/],
      ['bad percent-encoding', '%2B90532111000%', 400, 'a path parameter is not valid percent-encoded UTF-8'],
      ['invalid UTF-8', '%2B905321110001%FF', 400, 'a path parameter is not valid percent-encoded UTF-8'],
      ['an identity of 128 characters', `%2B${'9'.repeat(125)}`, 403, /is not assigned to this account$/],
    ];

    it.each(tricks)('logout with %s: %s → %i', async (_what, path, status, message) => {
      for (const sub of ['bob', 'alice']) {
        const result = await rawRequest(gateway, `/logout/${path}`, { method: 'POST', headers: { authorization: `Bearer ${await tokenOf(sub)}` } });
        expectError(result, status, message);
      }
    });

    it.each(tricks)('eventSubscription with %s: %s → %i', async (_what, path, status, message) => {
      const before = await aliceSubscription();
      for (const sub of ['bob', 'alice']) {
        const result = await rawRequest(gateway, `/identity/${path}/eventSubscription`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await tokenOf(sub)}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subscribeAll: true }),
        });
        expectError(result, status, message);
      }
      expect(await aliceSubscription()).toEqual(before);
    });

    const routing: Array<[string, string, number, string]> = [
      ['a trailing slash on logout', '/logout/%2B905321110001/', 404, 'no operation at POST /logout/%2B905321110001/'],
      ['a trailing slash on eventSubscription', '/identity/%2B905321110001/eventSubscription/', 404, 'no operation at POST /identity/%2B905321110001/eventSubscription/'],
      ['a literal ../ segment before the identity', '/logout/x/../%2B905321110001', 404, 'no operation at POST /logout/x/../%2B905321110001'],
      ['an empty segment', '/logout//%2B905321110001', 404, 'no operation at POST /logout//%2B905321110001'],
      ['setup/../../logout', '/identity/setup/../../logout/%2B905321110001', 404, 'no operation at POST /identity/setup/../../logout/%2B905321110001'],
      ['a 10 000-character identity on logout', `/logout/%2B${'9'.repeat(10_000)}`, 414, 'a path parameter is too long'],
      ['a 10 000-character identity on eventSubscription', `/identity/%2B${'9'.repeat(10_000)}/eventSubscription`, 414, 'a path parameter is too long'],
    ];

    it.each(routing)('answers %s with %i and the error body', async (_what, path, status, message) => {
      const result = await rawRequest(gateway, path, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokenOf('bob')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subscribeAll: true }),
      });
      expectError(result, status, message);
    });
  });

  describe("setup's body identity", () => {
    const bodies: Array<[string, unknown, number, string | RegExp]> = [
      ['percent-encoded', '%2B905321110001', 403, 'identity %2B905321110001 is not assigned to this account'],
      ['fullwidth plus', '\uff0b905321110001', 403, 'identity \uff0b905321110001 is not assigned to this account'],
      ['a leading space', ' +905321110001', 403, 'identity  +905321110001 is not assigned to this account'],
      ['a trailing NUL', '+905321110001\u0000', 403, 'identity +905321110001\u0000 is not assigned to this account'],
      ['a right-to-left override', '+905321110002\u202e1000111235409+', 403, /is not assigned to this account$/],
      ['lower-case username of an admin', 'ERIN.ADMIN', 403, 'identity ERIN.ADMIN is not assigned to this account'],
      ['a list holding the victim', [ALICE], 400, /identity must be a string/],
      ['an operator object', { $ne: null }, 400, /identity must be a string/],
      ['65 characters', `+${'9'.repeat(64)}`, 400, /identity must be at most 64 characters/],
    ];

    it.each(bodies)('answers bob sending %s with %i', async (_what, identity, status, message) => {
      const result = await http(`${gateway.url}/identity/setup`, { token: await tokenOf('bob'), body: { connectionType: 'WEB', identity } });
      expectError(result, status, message);
    });
  });

  describe('an administrator whose token names another administrator', () => {
    it("reaches only its own sessions: erin's session and socket stay", async () => {
      // No directory entry: the gateway takes preferred_username as the identity (SPEC section 1).
      const mallory = await issuer.sign({ sub: 'mallory', scope: 'vora:admin', claims: { preferred_username: 'erin.admin' } });
      const logout = await http(`${gateway.url}/logout/erin.admin`, { token: mallory, method: 'POST' });
      expectError(logout, 404, 'there is no live session for identity erin.admin');
      expect(await gateway.app.get(SessionStore).listByUser('erin')).toHaveLength(sessionCounts.get('erin')!);
    });
  });

  describe('after every attempt', () => {
    it('left every session, subscription and socket of every owner as it was', async () => {
      const sessions = gateway.app.get(SessionStore);
      const subscriptions = gateway.app.get(SubscriptionStore);
      for (const user of DIRECTORY) expect(await sessions.listByUser(user.sub)).toHaveLength(sessionCounts.get(user.sub)!);
      for (const { sub, identity, socket } of victims) {
        expect(socket.isClosed).toBe(false);
        expect(socket.pending()).toEqual([]);
        if (MODES[sub] !== 'admin') {
          expect(await subscriptions.get(sub, identity)).toEqual({ subscribeAll: false, events: VICTIM_EVENTS });
        }
      }
    });

    it('still delivers every owner its events', async () => {
      const numbers = victims.filter(({ sub }) => MODES[sub] !== 'admin');
      const result = await publish(
        gateway,
        platform,
        numbers.map(({ identity }, i) => ({
          event: 'CallDelivered',
          identity,
          data: { callId: `bola-${i}`, direction: 'terminating', remoteParty: REMOTE_PARTY },
        })),
      );
      expect(result.status).toBe(202);
      for (const [i, { identity, socket }] of numbers.entries()) {
        const event = await socket.nextMatching((m) => m.type === 'event');
        expect(event).toMatchObject({ event: 'CallDelivered', identity, data: { callId: `bola-${i}` } });
      }
    });
  });
});

describe('attack: broken object level authorization', () => {
  // Rate limits high enough that the refusals are never throttled.
  const { issuer, gateway } = useGateway({ RATE_LIMIT_PER_MINUTE: '100000' });

  describe("a valid token used on another user's identity", () => {
    let bob: string;
    beforeAll(async () => {
      // Alice holds a live session, so that a refusal cannot be a 404 in disguise.
      const alice = await issuer.sign({ sub: 'alice' });
      const setup = await http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType: 'MOBILE', identity: ALICE } });
      expect(setup.status).toBe(200);
      bob = await issuer.sign({ sub: 'bob' });
    });

    const forbidden = (result: HttpResult) => {
      expectError(result, 403, `identity ${ALICE} is not assigned to this account`);
      expect(result.body.error).toBe('Forbidden');
    };

    it('answers 403 to setup', async () => {
      forbidden(await http(`${gateway.url}/identity/setup`, { token: bob, body: { connectionType: 'MOBILE', identity: ALICE } }));
    });

    it('answers 403 to eventSubscription', async () => {
      forbidden(await http(`${gateway.url}/identity/${encodeURIComponent(ALICE)}/eventSubscription`, { token: bob, body: { subscribeAll: true } }));
    });

    it('answers 403 to logout, and alice keeps her session', async () => {
      forbidden(await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { token: bob, method: 'POST' }));
      const alice = await issuer.sign({ sub: 'alice' });
      const subscription = await http(`${gateway.url}/identity/${encodeURIComponent(ALICE)}/eventSubscription`, {
        token: alice,
        body: { subscribeAll: true },
      });
      expect(subscription.status).toBe(200);
    });

    it("lets bob use his own identity (the refusals are about ownership, not bob's token)", async () => {
      const setup = await http(`${gateway.url}/identity/setup`, { token: bob, body: { connectionType: 'WEB', identity: BOB } });
      expect(setup.status).toBe(200);
    });
  });
});
