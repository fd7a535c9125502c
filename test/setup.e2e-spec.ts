import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventCatalogue } from '../src/events/catalogue';
import { SubscriptionService } from '../src/events/subscription.service';
import { DrainState } from '../src/health/drain-state';
import { SessionService } from '../src/session/session.service';
import { SessionStore } from '../src/session/session.store';
import { SubscriptionStore } from '../src/session/subscription.store';
import { expectError, http, HttpResult, RunningGateway, startGateway } from './support/gateway';
import { eventually } from './support/eventually';
import { TestIssuer } from './support/test-issuer';

const ALICE_MOBILE = '+905321110001';
const ALICE_FIXED = '+902121110001';
const BOB = '+905321110002';
const CAROL = '+905321110003';
const ORIGIN = 'https://console.vora.example';

/** The catalogue as shipped, read independently of the gateway. */
const CATALOGUE = (
  JSON.parse(readFileSync(join(__dirname, '../config/events.json'), 'utf8')) as {
    events: { name: string; target: string; modes: string[] }[];
  }
).events;
const eventsOf = (mode: string) => CATALOGUE.filter((e) => e.modes.includes(mode)).map((e) => e.name);

function expectInsufficientScope(result: HttpResult, scopes: string): void {
  expectError(result, 403, `the access token has insufficient scope: one of ${scopes} is required`);
  expect(result.headers.get('www-authenticate')).toBe(`Bearer realm="vora", error="insufficient_scope", scope="${scopes}"`);
}

describe('client REST API', () => {
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  const token = (sub: string, scope = 'vora:user', claims: Record<string, unknown> = {}) => issuer.sign({ sub, scope, claims });
  const get = async (path: string, sub = 'alice', scope = 'vora:user') => http(`${gateway.url}${path}`, { token: await token(sub, scope) });
  const post = async (path: string, body: unknown, sub = 'alice', scope = 'vora:user') =>
    http(`${gateway.url}${path}`, { method: 'POST', token: await token(sub, scope), body });
  const setup = (identity: string, connectionType = 'WEB', sub = 'alice', scope = 'vora:user', extra: object = {}) =>
    post('/identity/setup', { connectionType, identity, ...extra }, sub, scope);
  const subscribe = (identity: string, body: unknown, sub = 'alice', scope = 'vora:user') =>
    post(`/identity/${identity}/eventSubscription`, body, sub, scope);
  const logout = (identity: string, sub = 'alice', scope = 'vora:user') => post(`/logout/${identity}`, undefined, sub, scope);

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    gateway = await startGateway({ ...issuer.env(), CORS_ORIGINS: ORIGIN });
  });
  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  /** Every test starts without sessions or subscriptions, so that tests do not see each other's. */
  afterEach(async () => {
    const store = gateway.app.get(SessionStore);
    const subscriptions = gateway.app.get(SubscriptionStore);
    for (const sub of ['alice', 'bob', 'carol', 'oscar', 'erin']) {
      for (const session of await store.listByUser(sub)) {
        await store.remove(session.id);
        await subscriptions.delete(session.sub, session.identity);
      }
    }
  });

  describe('GET /identity', () => {
    it('lists the numbers of a user', async () => {
      const result = await get('/identity');
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(result.body).toEqual({ identities: [ALICE_MOBILE, ALICE_FIXED] });
    });

    it('lists the numbers of a manager', async () => {
      const result = await get('/identity', 'carol', 'vora:manager');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: [CAROL, '+902121110003'] });
    });

    it('lists only the fixed number of an OTT caller', async () => {
      const result = await get('/identity', 'oscar', 'vora:ott');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: ['+902121110005'] });
    });

    it('lists only the username of an administrator', async () => {
      const result = await get('/identity', 'erin', 'vora:admin');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: ['erin.admin'] });
    });

    it('lists the preferred_username, else the sub, of an administrator without a directory entry', async () => {
      const named = await http(`${gateway.url}/identity`, { token: await token('root-1', 'vora:admin', { preferred_username: 'root' }) });
      expect(named.status).toBe(200);
      expect(named.body).toEqual({ identities: ['root'] });
      const unnamed = await get('/identity', 'root-1', 'vora:admin');
      expect(unnamed.body).toEqual({ identities: ['root-1'] });
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await get('/identity', 'mallory'), 404, 'no VORA account is registered for user "mallory"');
      expectError(await get('/identity', 'mallory', 'vora:ott'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('answers 401 without a token', async () => {
      const result = await http(`${gateway.url}/identity`);
      expectError(result, 401);
      expect(result.headers.get('www-authenticate')).toBe('Bearer realm="vora"');
    });
  });

  describe('OPTIONS /identity', () => {
    it('answers 200 with Allow and {} without a token', async () => {
      const result = await http(`${gateway.url}/identity`, { method: 'OPTIONS' });
      expect(result.status).toBe(200);
      expect(result.headers.get('allow')).toBe('GET, OPTIONS');
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(result.body).toEqual({});
      expect(result.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers a CORS preflight from an allowed origin with 200, the body and the CORS headers', async () => {
      const result = await http(`${gateway.url}/identity`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({});
      expect(result.headers.get('allow')).toBe('GET, OPTIONS');
      expect(result.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(result.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
      expect(result.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(result.headers.get('vary')).toMatch(/Origin/);
    });

    it('answers a preflight of another route from an allowed origin with 200 and CORS headers', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(result.status).toBe(200);
      expect(result.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(result.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    });

    it('adds no CORS headers for a disallowed origin', async () => {
      const result = await http(`${gateway.url}/identity`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({});
      for (const name of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers']) {
        expect(result.headers.get(name)).toBeNull();
      }
    });

    it('adds the allow-origin header to an actual request from an allowed origin only', async () => {
      const allowed = await http(`${gateway.url}/identity`, { token: await token('alice'), headers: { origin: ORIGIN } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      const refused = await http(`${gateway.url}/identity`, { token: await token('alice'), headers: { origin: 'https://evil.example' } });
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  describe('POST /identity/setup', () => {
    it('answers 200 (not 201) with a 256-bit webSocketToken', async () => {
      const result = await setup(ALICE_MOBILE);
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys(result.body)).toEqual(['webSocketToken']);
      expect(result.body.webSocketToken).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    });

    it('gives every setup a different token', async () => {
      const first = await setup(ALICE_MOBILE, 'WEB');
      const second = await setup(ALICE_MOBILE, 'DESKTOP');
      const third = await setup(ALICE_MOBILE, 'WEB');
      const tokens = new Set([first.body.webSocketToken, second.body.webSocketToken, third.body.webSocketToken]);
      expect(tokens.size).toBe(3);
    });

    it('stores the token only as a hash', async () => {
      const { webSocketToken } = (await setup(ALICE_MOBILE)).body;
      const sessions = await gateway.app.get(SessionStore).listByUser('alice');
      expect(sessions).toHaveLength(1);
      for (const value of Object.values(sessions[0])) expect(value).not.toBe(webSocketToken);
      expect(JSON.stringify(sessions)).not.toContain(webSocketToken);
      expect(sessions[0]).toMatchObject({ sub: 'alice', identity: ALICE_MOBILE, connectionType: 'WEB', holdUpMode: false, mode: 'user' });
      // The token opens the session through its hash.
      const session = await gateway.app.get(SessionService).authenticate(webSocketToken);
      expect(session?.id).toBe(sessions[0].id);
    });

    it.each(['WEB', 'DESKTOP', 'MOBILE'])('accepts connectionType %s', async (connectionType) => {
      expect((await setup(ALICE_MOBILE, connectionType)).status).toBe(200);
    });

    it('lets an OTT caller set up its fixed number and an admin its username', async () => {
      expect((await setup('+902121110005', 'MOBILE', 'oscar', 'vora:ott')).status).toBe(200);
      expect((await setup('erin.admin', 'WEB', 'erin', 'vora:admin')).status).toBe(200);
    });

    it('answers 400 to an invalid connectionType', async () => {
      expectError(await setup(ALICE_MOBILE, 'TELEX'), 400, 'invalid request body: connectionType must be one of WEB, DESKTOP, MOBILE');
      expectError(await setup(ALICE_MOBILE, 'web'), 400, /connectionType must be one of WEB, DESKTOP, MOBILE/);
    });

    it('answers 400 to a missing connectionType or identity', async () => {
      expectError(await post('/identity/setup', { identity: ALICE_MOBILE }), 400, /connectionType must be one of/);
      const result = await post('/identity/setup', { connectionType: 'WEB' });
      expectError(result, 400, /identity must be a string/);
      expect(result.body.error).toBe('Bad Request');
    });

    it('answers 400 naming an unknown field', async () => {
      expectError(await setup(ALICE_MOBILE, 'WEB', 'alice', 'vora:user', { pushToken: 'x' }), 400, 'invalid request body: unknown field "pushToken"');
    });

    it('answers 400 to a holdUpMode that is not a boolean', async () => {
      expectError(await setup(ALICE_MOBILE, 'MOBILE', 'alice', 'vora:user', { holdUpMode: 'yes' }), 400, /holdUpMode must be a boolean/);
    });

    it('answers 403 to an identity that is not the caller\'s', async () => {
      expectError(await setup(BOB), 403, `identity ${BOB} is not assigned to this account`);
      // An OTT caller may use only its fixed number.
      expectError(await setup('+905321110005', 'WEB', 'oscar', 'vora:ott'), 403, 'identity +905321110005 is not assigned to this account');
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await setup(ALICE_MOBILE, 'WEB', 'mallory'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('allows holdUpMode only with MOBILE', async () => {
      expectError(await setup(ALICE_MOBILE, 'WEB', 'alice', 'vora:user', { holdUpMode: true }), 400, 'holdUpMode is allowed only with connectionType MOBILE');
      expectError(await setup(ALICE_MOBILE, 'DESKTOP', 'alice', 'vora:user', { holdUpMode: true }), 400, 'holdUpMode is allowed only with connectionType MOBILE');
      expect((await setup(ALICE_MOBILE, 'WEB', 'alice', 'vora:user', { holdUpMode: false })).status).toBe(200);
      expect((await setup(ALICE_MOBILE, 'MOBILE', 'alice', 'vora:user', { holdUpMode: true })).status).toBe(200);
      const [mobile] = (await gateway.app.get(SessionStore).listByUser('alice')).filter((s) => s.connectionType === 'MOBILE');
      expect(mobile.holdUpMode).toBe(true);
    });

    it('replaces the session with the same key and revokes the old token', async () => {
      const first = (await setup(ALICE_MOBILE, 'WEB')).body.webSocketToken;
      const second = (await setup(ALICE_MOBILE, 'WEB')).body.webSocketToken;
      const sessions = gateway.app.get(SessionService);
      expect(await sessions.authenticate(first)).toBeUndefined();
      expect(await sessions.authenticate(second)).toBeDefined();
      expect(await gateway.app.get(SessionStore).listByUser('alice')).toHaveLength(1);
    });

    it('keeps one session per key when replacements race', async () => {
      await setup(ALICE_MOBILE, 'WEB');
      const results = await Promise.all([1, 2, 3, 4].map(() => setup(ALICE_MOBILE, 'WEB')));
      for (const result of results) expect(result.status).toBe(200);
      const live = await gateway.app.get(SessionStore).listByUser('alice');
      expect(live).toHaveLength(1);
      // Only the token of the surviving session opens it.
      const sessions = gateway.app.get(SessionService);
      const opened = await Promise.all(results.map((r) => sessions.authenticate(r.body.webSocketToken)));
      expect(opened.filter(Boolean).map((s) => s!.id)).toEqual([live[0].id]);
    });

    it('creates the subscription as subscribeAll', async () => {
      await setup(ALICE_MOBILE);
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE_MOBILE)).toEqual({ subscribeAll: true, events: [] });
      expect(await gateway.app.get(SubscriptionService).current('alice', ALICE_MOBILE, 'user')).toEqual({
        subscribeAll: true,
        events: eventsOf('user'),
      });
    });

    it('keeps an existing subscription on a second setup of the identity', async () => {
      await setup(ALICE_MOBILE, 'WEB');
      expect((await subscribe(ALICE_MOBILE, { subscribeAll: false, events: ['CallDelivered'] })).status).toBe(200);
      await setup(ALICE_MOBILE, 'DESKTOP');
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE_MOBILE)).toEqual({ subscribeAll: false, events: ['CallDelivered'] });
      await logout(ALICE_MOBILE);
    });
  });

  describe('POST /identity/{identity}/eventSubscription', () => {
    it('accepts the identity with a literal + and with %2B', async () => {
      await setup(ALICE_MOBILE);
      const literal = await http(`${gateway.url}/identity/+905321110001/eventSubscription`, {
        token: await token('alice'),
        body: { subscribeAll: true },
      });
      expect(literal.status).toBe(200);
      const encoded = await http(`${gateway.url}/identity/%2B905321110001/eventSubscription`, {
        token: await token('alice'),
        body: { subscribeAll: false, events: ['CallCleared'] },
      });
      expect(encoded.status).toBe(200);
      expect(encoded.body).toEqual({ subscribeAll: false, events: ['CallCleared'] });
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE_MOBILE)).toEqual({ subscribeAll: false, events: ['CallCleared'] });
    });

    it('lists every event a user may have for subscribeAll: 14, no group events', async () => {
      await setup(ALICE_MOBILE);
      const result = await subscribe(ALICE_MOBILE, { subscribeAll: true });
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(result.body).toEqual({ subscribeAll: true, events: eventsOf('user') });
      expect(result.body.events).toHaveLength(14);
      expect(result.body.events).not.toContain('AgentStateChanged');
      expect(result.body.events).not.toContain('QueueStatusChanged');
    });

    it('lists every event a manager may have for subscribeAll: 16', async () => {
      await setup(CAROL, 'WEB', 'carol', 'vora:manager');
      const result = await subscribe(CAROL, { subscribeAll: true, events: [] }, 'carol', 'vora:manager');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ subscribeAll: true, events: eventsOf('manager') });
      expect(result.body.events).toHaveLength(16);
    });

    it('lists every event an OTT caller may have for subscribeAll: 11', async () => {
      await setup('+902121110005', 'MOBILE', 'oscar', 'vora:ott');
      const result = await subscribe('+902121110005', { subscribeAll: true }, 'oscar', 'vora:ott');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ subscribeAll: true, events: eventsOf('ott') });
      expect(result.body.events).toHaveLength(11);
      expect(result.body.events).toContain('VoicemailWaiting');
      expect(result.body.events).not.toContain('PresenceChanged');
    });

    it('agrees with the catalogue the gateway loaded', () => {
      const catalogue = gateway.app.get(EventCatalogue);
      for (const mode of ['user', 'manager', 'ott'] as const) expect(catalogue.allowedFor(mode)).toEqual(eventsOf(mode));
      expect(catalogue.allowedFor('admin')).toEqual([]);
    });

    it('keeps exactly the chosen events for subscribeAll false', async () => {
      await setup(ALICE_MOBILE);
      const result = await subscribe(ALICE_MOBILE, { subscribeAll: false, events: ['CallDelivered', 'PresenceChanged'] });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ subscribeAll: false, events: ['CallDelivered', 'PresenceChanged'] });
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE_MOBILE)).toEqual({
        subscribeAll: false,
        events: ['CallDelivered', 'PresenceChanged'],
      });
    });

    it('lets a manager subscribe to group events', async () => {
      await setup(CAROL, 'WEB', 'carol', 'vora:manager');
      const result = await subscribe(CAROL, { subscribeAll: false, events: ['AgentStateChanged'] }, 'carol', 'vora:manager');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ subscribeAll: false, events: ['AgentStateChanged'] });
    });

    it('answers 400 naming unknown events, and keeps the subscription', async () => {
      await setup(ALICE_MOBILE);
      const result = await subscribe(ALICE_MOBILE, { subscribeAll: false, events: ['CallDelivered', 'CallTeleported', 'Nope'] });
      expectError(result, 400, 'unknown events: CallTeleported, Nope');
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE_MOBILE)).toEqual({ subscribeAll: true, events: [] });
    });

    it('answers 400 to duplicate events', async () => {
      await setup(ALICE_MOBILE);
      expectError(
        await subscribe(ALICE_MOBILE, { subscribeAll: false, events: ['CallDelivered', 'CallCleared', 'CallDelivered'] }),
        400,
        'events are listed more than once: CallDelivered',
      );
    });

    it('answers 400 to subscribeAll false without events', async () => {
      await setup(ALICE_MOBILE);
      const message = 'events must list at least one event when subscribeAll is false';
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: false }), 400, message);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: false, events: [] }), 400, message);
    });

    it('answers 400 to subscribeAll true with events', async () => {
      await setup(ALICE_MOBILE);
      expectError(
        await subscribe(ALICE_MOBILE, { subscribeAll: true, events: ['CallDelivered'] }),
        400,
        'events must be absent or empty when subscribeAll is true',
      );
    });

    it('answers 400 to a missing or non-boolean subscribeAll', async () => {
      await setup(ALICE_MOBILE);
      expectError(await subscribe(ALICE_MOBILE, { events: ['CallDelivered'] }), 400, /subscribeAll is required/);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: 'true' }), 400, /subscribeAll must be a boolean/);
      expectError(await subscribe(ALICE_MOBILE, {}), 400, /subscribeAll is required/);
    });

    it('answers 400 to events that are not a list of names, and to unknown fields', async () => {
      await setup(ALICE_MOBILE);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: false, events: 'CallDelivered' }), 400, /events must be a list of event names/);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: false, events: [1] }), 400, /events must be a list of event names/);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: true, filter: 'x' }), 400, 'invalid request body: unknown field "filter"');
    });

    it('answers 403 to an event the mode may not have', async () => {
      await setup(ALICE_MOBILE);
      expectError(
        await subscribe(ALICE_MOBILE, { subscribeAll: false, events: ['CallDelivered', 'QueueStatusChanged'] }),
        403,
        'mode user may not subscribe to: QueueStatusChanged',
      );
      await setup('+902121110005', 'MOBILE', 'oscar', 'vora:ott');
      expectError(
        await subscribe('+902121110005', { subscribeAll: false, events: ['PresenceChanged'] }, 'oscar', 'vora:ott'),
        403,
        'mode ott may not subscribe to: PresenceChanged',
      );
    });

    it('answers 403 to an identity that is not the caller\'s', async () => {
      await setup(BOB, 'WEB', 'bob');
      expectError(await subscribe(BOB, { subscribeAll: true }), 403, `identity ${BOB} is not assigned to this account`);
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: true }, 'mallory'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('answers 404 when the identity has no live session', async () => {
      expectError(
        await subscribe(ALICE_MOBILE, { subscribeAll: true }),
        404,
        `there is no live session for identity ${ALICE_MOBILE}; call /identity/setup first`,
      );
      // A session on the other identity does not count.
      await setup(ALICE_FIXED);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: true }), 404);
    });

    it('answers 403 insufficient_scope to an administrator', async () => {
      await setup('erin.admin', 'WEB', 'erin', 'vora:admin');
      expectInsufficientScope(await subscribe('erin.admin', { subscribeAll: true }, 'erin', 'vora:admin'), 'vora:user vora:manager vora:ott');
    });
  });

  describe('POST /logout/{identity}', () => {
    it('answers 200, revokes every token of the identity and leaves other identities alone', async () => {
      const web = (await setup(ALICE_MOBILE, 'WEB')).body.webSocketToken;
      const desktop = (await setup(ALICE_MOBILE, 'DESKTOP')).body.webSocketToken;
      const other = (await setup(ALICE_FIXED, 'WEB')).body.webSocketToken;
      const result = await logout(ALICE_MOBILE);
      expect(result.status).toBe(200);
      const sessions = gateway.app.get(SessionService);
      expect(await sessions.authenticate(web)).toBeUndefined();
      expect(await sessions.authenticate(desktop)).toBeUndefined();
      expect(await sessions.authenticate(other)).toMatchObject({ identity: ALICE_FIXED });
    });

    it('accepts %2B for the plus', async () => {
      await setup(ALICE_MOBILE);
      const result = await http(`${gateway.url}/logout/%2B905321110001`, { method: 'POST', token: await token('alice') });
      expect(result.status).toBe(200);
    });

    it('answers 404 to a second logout and to a logout without a session', async () => {
      await setup(ALICE_MOBILE);
      expect((await logout(ALICE_MOBILE)).status).toBe(200);
      expectError(await logout(ALICE_MOBILE), 404, `there is no live session for identity ${ALICE_MOBILE}`);
      expectError(await logout(ALICE_FIXED), 404, `there is no live session for identity ${ALICE_FIXED}`);
    });

    it('answers 403 to an identity that is not the caller\'s', async () => {
      await setup(BOB, 'WEB', 'bob');
      expectError(await logout(BOB), 403, `identity ${BOB} is not assigned to this account`);
      expect(await gateway.app.get(SessionStore).listByUser('bob')).toHaveLength(1);
    });

    it('makes eventSubscription answer 404 afterwards', async () => {
      await setup(ALICE_MOBILE);
      await logout(ALICE_MOBILE);
      expectError(await subscribe(ALICE_MOBILE, { subscribeAll: true }), 404);
    });

    it('deletes the subscription: a new setup starts from subscribeAll again', async () => {
      await setup(ALICE_MOBILE);
      await subscribe(ALICE_MOBILE, { subscribeAll: false, events: ['CallDelivered'] });
      await logout(ALICE_MOBILE);
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE_MOBILE)).toBeUndefined();
      await setup(ALICE_MOBILE);
      expect(await gateway.app.get(SubscriptionService).current('alice', ALICE_MOBILE, 'user')).toEqual({
        subscribeAll: true,
        events: eventsOf('user'),
      });
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await logout(ALICE_MOBILE, 'mallory'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('lets an administrator log out of its username', async () => {
      await setup('erin.admin', 'WEB', 'erin', 'vora:admin');
      expect((await logout('erin.admin', 'erin', 'vora:admin')).status).toBe(200);
    });
  });

  describe('health', () => {
    it('answers liveness with 204 and no body, without a token', async () => {
      const result = await http(`${gateway.url}/health/liveness`);
      expect(result.status).toBe(204);
      expect(result.body).toBeUndefined();
    });

    it('answers readiness with 204 and no body, without a token', async () => {
      const result = await http(`${gateway.url}/health/readiness`);
      expect(result.status).toBe(204);
      expect(result.body).toBeUndefined();
    });
  });

  describe('errors on every route', () => {
    it('answers an unknown route with 404 and the error body', async () => {
      expectError(await http(`${gateway.url}/nope`), 404, 'no operation at GET /nope');
      expectError(await http(`${gateway.url}/identity/setup`), 404, 'no operation at GET /identity/setup');
      expectError(await http(`${gateway.url}/identity`, { method: 'DELETE' }), 404, 'no operation at DELETE /identity');
    });

    it('answers OPTIONS on a route without an OPTIONS operation, outside a preflight, with 404', async () => {
      expectError(await http(`${gateway.url}/nope`, { method: 'OPTIONS' }), 404, 'no operation at OPTIONS /nope');
    });

    it('accepts application/json with a charset', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: JSON.stringify({ connectionType: 'WEB', identity: ALICE_MOBILE }),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect(result.status).toBe(200);
    });

    it('answers malformed JSON with 400', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: '{"connectionType": "WEB",',
        headers: { 'content-type': 'application/json' },
      });
      expectError(result, 400, 'the request body is not valid JSON');
      expect(result.body.error).toBe('Bad Request');
    });

    it('answers a declared but empty JSON body with 400', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      expectError(result, 400);
    });

    it('answers a POST without a body with 400', async () => {
      expectError(await post('/identity/setup', undefined), 400, 'a JSON object body is required');
    });

    it('answers another content type with 415', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: JSON.stringify({ connectionType: 'WEB', identity: ALICE_MOBILE }),
        headers: { 'content-type': 'text/plain' },
      });
      expectError(result, 415, 'the request body must be application/json');
      expect(result.body.error).toBe('Unsupported Media Type');
    });

    it('answers a body over 16 KiB with 413', async () => {
      const result = await post('/identity/setup', { connectionType: 'WEB', identity: ALICE_MOBILE, padding: 'x'.repeat(17 * 1024) });
      expectError(result, 413, 'the request body is larger than this endpoint accepts (16 KiB for client operations)');
      expect(result.body.error).toBe('Payload Too Large');
    });

    it('accepts a body just under 16 KiB up to validation', async () => {
      const result = await post('/identity/setup', { connectionType: 'WEB', identity: ALICE_MOBILE, padding: 'x'.repeat(15 * 1024) });
      expectError(result, 400, 'invalid request body: unknown field "padding"');
    });

    it('answers __proto__ and constructor.prototype keys with 400', async () => {
      for (const rawBody of [
        '{"connectionType":"WEB","identity":"+905321110001","__proto__":{"holdUpMode":true}}',
        '{"connectionType":"WEB","identity":"+905321110001","constructor":{"prototype":{"holdUpMode":true}}}',
      ]) {
        const result = await http(`${gateway.url}/identity/setup`, {
          method: 'POST',
          token: await token('alice'),
          rawBody,
          headers: { 'content-type': 'application/json' },
        });
        expectError(result, 400, 'the request body contains a forbidden key (__proto__ or constructor)');
      }
      expect(({} as { holdUpMode?: boolean }).holdUpMode).toBeUndefined();
    });

    it('answers an array or scalar body with 400', async () => {
      expectError(await post('/identity/setup', [{ connectionType: 'WEB', identity: ALICE_MOBILE }]), 400, 'the request body must be a JSON object');
      expectError(await post('/identity/setup', 'WEB'), 400, 'the request body must be a JSON object');
      expectError(await post(`/identity/${ALICE_MOBILE}/eventSubscription`, [true]), 400, 'the request body must be a JSON object');
    });

    // The router answers these before any hook or Nest filter; frameworkErrors (src/app.ts) keeps the seed body.
    it('answers an over-long path parameter with 414 and the error body', async () => {
      const result = await http(`${gateway.url}/logout/+${'9'.repeat(300)}`, { method: 'POST', token: await token('alice') });
      expectError(result, 414);
    });

    it('answers a malformed percent-encoding in the path with 400 and the error body', async () => {
      const result = await http(`${gateway.url}/logout/%E0%A4%A`, { method: 'POST', token: await token('alice') });
      expectError(result, 400);
    });
  });
});

describe('MAX_SESSIONS_PER_USER', () => {
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  const setup = async (identity: string, connectionType: string) =>
    http(`${gateway.url}/identity/setup`, { token: await issuer.sign({ sub: 'alice' }), body: { connectionType, identity } });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    gateway = await startGateway({ ...issuer.env(), MAX_SESSIONS_PER_USER: '2' });
  });
  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('answers 409 past the limit, replaces without counting twice, and frees a place on logout', async () => {
    expect((await setup(ALICE_MOBILE, 'WEB')).status).toBe(200);
    expect((await setup(ALICE_MOBILE, 'DESKTOP')).status).toBe(200);
    expectError(
      await setup(ALICE_MOBILE, 'MOBILE'),
      409,
      'this account already has 2 live sessions, the most allowed; log out of one before opening another',
    );
    expectError(await setup(ALICE_FIXED, 'WEB'), 409);
    // Same (identity, connectionType): a replacement, not a third session.
    expect((await setup(ALICE_MOBILE, 'WEB')).status).toBe(200);
    expect((await setup(ALICE_MOBILE, 'DESKTOP')).status).toBe(200);
    expect(await gateway.app.get(SessionStore).listByUser('alice')).toHaveLength(2);
    // Another user has its own count.
    const bob = await http(`${gateway.url}/identity/setup`, {
      token: await issuer.sign({ sub: 'bob' }),
      body: { connectionType: 'WEB', identity: BOB },
    });
    expect(bob.status).toBe(200);

    const logout = await http(`${gateway.url}/logout/${ALICE_MOBILE}`, { method: 'POST', token: await issuer.sign({ sub: 'alice' }) });
    expect(logout.status).toBe(200);
    expect((await setup(ALICE_FIXED, 'WEB')).status).toBe(200);
    expect((await setup(ALICE_FIXED, 'MOBILE')).status).toBe(200);
    expectError(await setup(ALICE_FIXED, 'DESKTOP'), 409);
  });
});

describe('readiness', () => {
  describe('draining for shutdown', () => {
    let issuer: TestIssuer;
    let gateway: RunningGateway;
    beforeAll(async () => {
      issuer = await TestIssuer.start();
      gateway = await startGateway(issuer.env());
    });
    afterAll(async () => {
      await gateway.close();
      await issuer.close();
    });

    it('answers 503 naming shutdown, while liveness stays 204', async () => {
      expect((await http(`${gateway.url}/health/readiness`)).status).toBe(204);
      gateway.app.get(DrainState).begin();
      const result = await http(`${gateway.url}/health/readiness`);
      expectError(result, 503, 'not ready: shutdown (draining for shutdown)');
      expect(result.body.error).toBe('Service Unavailable');
      expect((await http(`${gateway.url}/health/liveness`)).status).toBe(204);
    });
  });

  describe('issuer keys never loaded', () => {
    let issuer: TestIssuer;
    let gateway: RunningGateway;
    beforeAll(async () => {
      issuer = await TestIssuer.start();
      issuer.setDown(true);
      gateway = await startGateway(issuer.env());
    });
    afterAll(async () => {
      await gateway.close();
      await issuer.close();
    });

    it('answers 503 naming keys, while liveness stays 204', async () => {
      const result = await http(`${gateway.url}/health/readiness`);
      expectError(result, 503, 'not ready: keys (token issuer keys never loaded)');
      expect((await http(`${gateway.url}/health/liveness`)).status).toBe(204);
    });

    it('becomes ready once the issuer is back, without waiting for the periodic refresh', async () => {
      issuer.setDown(false);
      const ready = await eventually(async () => (await http(`${gateway.url}/health/readiness`)).status === 204, { timeoutMs: 10_000, intervalMs: 100 });
      expect(ready).toBe(true);
      expect((await http(`${gateway.url}/identity`, { token: await issuer.sign() })).status).toBe(200);
    });
  });
});
