import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SessionStore } from '../src/session/session.store';
import { SubscriptionStore } from '../src/subscriptions/subscription.store';
import { ALICE, ALICE_FIXED, BOB, CAROL, DAVE, OSCAR_FIXED, REMOTE_PARTY } from './support/fixtures';
import { expectError, forgetSessionsAfterEach, http, openSession, publish, publishAccepted, setupSession, TestSocket, useGateway } from './support/harness';

const CATALOGUE = (
  JSON.parse(readFileSync(join(__dirname, '../config/events.json'), 'utf8')) as { events: { name: string; modes: string[] }[] }
).events;
const eventsOf = (mode: string) => CATALOGUE.filter((e) => e.modes.includes(mode)).map((e) => e.name);

const call = (identity: string, event = 'CallDelivered', extra: Record<string, unknown> = {}) => ({
  event,
  identity,
  data: { callId: 'c-1', direction: 'terminating', remoteParty: REMOTE_PARTY, ...extra },
});

describe('WebSocket delivery and POST /events', () => {
  const { issuer, gateway } = useGateway();
  let platform: string;
  const sockets: TestSocket[] = [];
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });

  /** Sets up a session and opens its socket; the socket is closed after the test. */
  async function connect(sub: string, identity: string, scope = 'vora:user', connectionType = 'WEB') {
    const opened = await openSession(gateway, await user(sub, scope), { identity, connectionType });
    sockets.push(opened.socket);
    return opened;
  }

  /**
   * Asserts that nothing reached the socket before `marker`: publishes an event
   * for the socket's identity and expects it to be the very next message.
   */
  async function expectNothingBefore(socket: TestSocket, identity: string, expectedId = 1): Promise<void> {
    await publishAccepted(gateway, platform, call(identity, 'CallCleared', { marker: true }));
    const next = await socket.nextEvent();
    expect(next).toMatchObject({ id: String(expectedId), event: 'CallCleared', identity, data: { marker: true } });
  }

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  forgetSessionsAfterEach(gateway, ['alice', 'bob', 'carol', 'dave', 'oscar']);

  describe('welcome', () => {
    it('is the first message, with exactly the fields of SPEC section 4 (token in the query)', async () => {
      const before = Date.now();
      const { welcome } = await connect('alice', ALICE);
      const after = Date.now();
      expect(Object.keys(welcome).sort()).toEqual(
        ['expiresAt', 'heartbeatIntervalMs', 'identity', 'lastEventId', 'mode', 'recovered', 'sessionId', 'subscription', 'type'].sort(),
      );
      expect(welcome).toEqual({
        type: 'welcome',
        sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        identity: ALICE,
        mode: 'user',
        subscription: { subscribeAll: true, events: eventsOf('user') },
        heartbeatIntervalMs: 25_000,
        lastEventId: '0',
        recovered: true,
        expiresAt: expect.any(String),
      });
      const [[session]] = await gateway.app.get(SessionStore).listByIdentities([ALICE]);
      expect(welcome.sessionId).toBe(session.id);
      // SESSION_MAX_LIFETIME_S (default 24 h) after the setup made between the two moments.
      expect(new Date(welcome.expiresAt).toISOString()).toBe(welcome.expiresAt);
      expect(welcome.expiresAt).toBe(session.expiresAt);
      expect(Date.parse(welcome.expiresAt)).toBeGreaterThanOrEqual(before + 86_400_000);
      expect(Date.parse(welcome.expiresAt)).toBeLessThanOrEqual(after + 86_400_000);
    });

    it('accepts the token in Authorization: Bearer', async () => {
      const token = await setupSession(gateway, await user('alice'), { identity: ALICE });
      const { socket, welcome } = await TestSocket.connect(gateway, { token, tokenInHeader: true });
      sockets.push(socket);
      expect(welcome).toMatchObject({ type: 'welcome', identity: ALICE, mode: 'user', lastEventId: '0', recovered: true });
    });

    it('reports a manager with its group events and an OTT caller with its call events', async () => {
      const manager = await connect('carol', CAROL, 'vora:manager');
      expect(manager.welcome).toMatchObject({ mode: 'manager', subscription: { subscribeAll: true, events: eventsOf('manager') } });
      expect(manager.welcome.subscription.events).toEqual(expect.arrayContaining(['AgentStateChanged', 'QueueStatusChanged']));
      const ott = await connect('oscar', OSCAR_FIXED, 'vora:ott');
      expect(ott.welcome).toMatchObject({ mode: 'ott', subscription: { subscribeAll: true, events: eventsOf('ott') } });
    });
  });

  describe('event envelope', () => {
    it('carries exactly type, id, event, identity, timestamp and data; occurredAt becomes the timestamp', async () => {
      const { socket } = await connect('alice', ALICE);
      const occurredAt = '2026-11-28T10:15:30.120Z';
      await publishAccepted(gateway, platform, { ...call(ALICE), occurredAt });
      const event = await socket.nextEvent();
      expect(Object.keys(event)).toEqual(['type', 'id', 'event', 'identity', 'timestamp', 'data']);
      expect(event).toEqual({
        type: 'event',
        id: '1',
        event: 'CallDelivered',
        identity: ALICE,
        timestamp: occurredAt,
        data: { callId: 'c-1', direction: 'terminating', remoteParty: REMOTE_PARTY },
      });
    });

    it('normalizes an occurredAt with an offset to UTC', async () => {
      const { socket } = await connect('alice', ALICE);
      await publishAccepted(gateway, platform, { ...call(ALICE), occurredAt: '2026-11-28T13:15:30+03:00' });
      expect((await socket.nextEvent()).timestamp).toBe('2026-11-28T10:15:30.000Z');
    });

    it('stamps an event without occurredAt with the time it was accepted, and data defaults to {}', async () => {
      const { socket } = await connect('alice', ALICE);
      const before = Date.now();
      await publishAccepted(gateway, platform, { event: 'VoicemailWaiting', identity: ALICE });
      const after = Date.now();
      const event = await socket.nextEvent();
      expect(event).toEqual({ type: 'event', id: '1', event: 'VoicemailWaiting', identity: ALICE, timestamp: expect.any(String), data: {} });
      expect(new Date(event.timestamp).toISOString()).toBe(event.timestamp);
      expect(Date.parse(event.timestamp)).toBeGreaterThanOrEqual(before - 5);
      expect(Date.parse(event.timestamp)).toBeLessThanOrEqual(after + 5);
    });

    it('numbers a session’s events 1, 2, 3 with no holes, across batches', async () => {
      const { socket } = await connect('alice', ALICE);
      await publishAccepted(gateway, platform, call(ALICE, 'CallOriginated'));
      await publishAccepted(gateway, platform, [call(ALICE, 'CallEstablished'), call(ALICE, 'CallCleared')]);
      const events = await socket.events(3);
      expect(events.map((e) => [e.id, e.event])).toEqual([
        ['1', 'CallOriginated'],
        ['2', 'CallEstablished'],
        ['3', 'CallCleared'],
      ]);
    });
  });

  describe('ordering', () => {
    it('delivers a batch of 500 in publish order with ids 1..500', async () => {
      const { socket } = await connect('alice', ALICE);
      const batch = Array.from({ length: 500 }, (_, seq) => call(ALICE, 'CallHeld', { seq }));
      await publishAccepted(gateway, platform, batch);
      const events = await socket.events(500);
      expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      expect(events.map((e) => e.data.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      // Exactly once: the next event is a marker published after the batch, with id 501.
      await expectNothingBefore(socket, ALICE, 501);
    });

    it('delivers 500 concurrent single POSTs once each, with ids 1..500 and no holes', async () => {
      const { socket } = await connect('alice', ALICE);
      const results = await Promise.all(
        Array.from({ length: 500 }, (_, seq) => publish(gateway, platform, call(ALICE, 'CallHeld', { seq }))),
      );
      expect(results.every((r) => r.status === 202 && r.body.accepted === 1)).toBe(true);
      const events = await socket.events(500);
      expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      expect(events.map((e) => e.data.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      // Nothing more: the next event is the marker with id 501.
      await expectNothingBefore(socket, ALICE, 501);
    });
  });

  describe('routing', () => {
    it('isolates users: bob receives nothing of alice’s, nor does another identity of alice', async () => {
      const alice = await connect('alice', ALICE);
      const aliceFixed = await connect('alice', ALICE_FIXED);
      const bob = await connect('bob', BOB);
      await publishAccepted(gateway, platform, [call(ALICE), call(ALICE, 'PresenceChanged')]);
      expect((await alice.socket.events(2)).map((e) => e.event)).toEqual(['CallDelivered', 'PresenceChanged']);
      await expectNothingBefore(bob.socket, BOB);
      await expectNothingBefore(aliceFixed.socket, ALICE_FIXED);
    });

    it('delivers an identity event to every session of that identity, each with its own ids', async () => {
      const web = await connect('alice', ALICE, 'vora:user', 'WEB');
      await publishAccepted(gateway, platform, call(ALICE, 'CallOriginated'));
      await web.socket.nextEvent();
      const desktop = await connect('alice', ALICE, 'vora:user', 'DESKTOP');
      await publishAccepted(gateway, platform, call(ALICE, 'CallCleared'));
      expect(await web.socket.nextEvent()).toMatchObject({ id: '2', event: 'CallCleared' });
      expect(await desktop.socket.nextEvent()).toMatchObject({ id: '1', event: 'CallCleared' });
    });

    it('delivers group events to the managers of the group only', async () => {
      const carol = await connect('carol', CAROL, 'vora:manager');
      const alice = await connect('alice', ALICE);
      const bob = await connect('bob', BOB);
      const dave = await connect('dave', DAVE);
      await publishAccepted(gateway, platform, { event: 'AgentStateChanged', group: 'sales', data: { agent: 'bob', state: 'busy' } });
      const event = await carol.socket.nextEvent();
      expect(Object.keys(event)).toEqual(['type', 'id', 'event', 'identity', 'group', 'timestamp', 'data']);
      expect(event).toEqual({
        type: 'event',
        id: '1',
        event: 'AgentStateChanged',
        identity: CAROL,
        group: 'sales',
        timestamp: expect.any(String),
        data: { agent: 'bob', state: 'busy' },
      });
      await publishAccepted(gateway, platform, { event: 'QueueStatusChanged', group: 'support', data: { waiting: 3 } });
      expect(await carol.socket.nextEvent()).toMatchObject({ id: '2', event: 'QueueStatusChanged', group: 'support' });
      await expectNothingBefore(alice.socket, ALICE);
      await expectNothingBefore(bob.socket, BOB);
      await expectNothingBefore(dave.socket, DAVE);
    });

    it('gives no group events to a manager’s session opened with a vora:user token', async () => {
      const asUser = await connect('carol', CAROL, 'vora:user', 'DESKTOP');
      expect(asUser.welcome.mode).toBe('user');
      const asManager = await connect('carol', CAROL, 'vora:manager', 'WEB');
      await publishAccepted(gateway, platform, { event: 'AgentStateChanged', group: 'sales', data: {} });
      expect(await asManager.socket.nextEvent()).toMatchObject({ id: '1', event: 'AgentStateChanged' });
      await expectNothingBefore(asUser.socket, CAROL);
    });

    it('gives an OTT caller call events and VoicemailWaiting, not PresenceChanged', async () => {
      const { socket } = await connect('oscar', OSCAR_FIXED, 'vora:ott');
      await publishAccepted(gateway, platform, [
        { event: 'PresenceChanged', identity: OSCAR_FIXED, data: { presence: 'away' } },
        call(OSCAR_FIXED, 'CallDelivered'),
        { event: 'DoNotDisturbChanged', identity: OSCAR_FIXED, data: { enabled: true } },
        { event: 'VoicemailWaiting', identity: OSCAR_FIXED, data: { count: 2 } },
      ]);
      const events = await socket.events(2);
      expect(events.map((e) => [e.id, e.event])).toEqual([
        ['1', 'CallDelivered'],
        ['2', 'VoicemailWaiting'],
      ]);
      await expectNothingBefore(socket, OSCAR_FIXED, 3);
    });
  });

  describe('subscription', () => {
    it('applies a change to the open socket at once', async () => {
      const { socket } = await connect('alice', ALICE);
      await publishAccepted(gateway, platform, call(ALICE, 'CallDelivered'));
      expect(await socket.nextEvent()).toMatchObject({ id: '1', event: 'CallDelivered' });

      const changed = await http(`${gateway.url}/identity/${ALICE}/eventSubscription`, {
        token: await user('alice'),
        body: { subscribeAll: false, events: ['CallCleared'] },
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toEqual({ subscribeAll: false, events: ['CallCleared'] });

      await publishAccepted(gateway, platform, call(ALICE, 'CallDelivered'));
      await publishAccepted(gateway, platform, call(ALICE, 'CallCleared'));
      expect(await socket.nextEvent()).toMatchObject({ id: '2', event: 'CallCleared' });

      const back = await http(`${gateway.url}/identity/${ALICE}/eventSubscription`, {
        token: await user('alice'),
        body: { subscribeAll: true },
      });
      expect(back.status).toBe(200);
      await publishAccepted(gateway, platform, call(ALICE, 'CallDelivered'));
      expect(await socket.nextEvent()).toMatchObject({ id: '3', event: 'CallDelivered' });
    });
  });

  describe('POST /events', () => {
    it('answers 202 {"accepted": n} for one event and for a batch', async () => {
      const one = await publish(gateway, platform, call(ALICE));
      expect(one.status).toBe(202);
      expect(one.body).toEqual({ accepted: 1 });
      const many = await publish(gateway, platform, [call(ALICE), call(BOB), { event: 'AgentStateChanged', group: 'sales' }]);
      expect(many.status).toBe(202);
      expect(many.body).toEqual({ accepted: 3 });
    });

    const BAD_DATE = 'occurredAt must be an ISO-8601 date-time with an offset, e.g. 2026-11-28T10:15:30.120Z';
    const badItems: Array<[string, unknown, string]> = [
      ['an unknown event', { event: 'NoSuchEvent', identity: ALICE }, 'events[1]: unknown event "NoSuchEvent"'],
      ['no event name', { identity: ALICE }, 'events[1]: unknown event null'],
      ['a missing identity', { event: 'CallDelivered', data: {} }, 'events[1]: identity must be an E.164 number'],
      ['an identity that is not E.164', { event: 'CallDelivered', identity: '905321110001' }, 'events[1]: identity must be an E.164 number'],
      ['a group on an identity event', { ...call(ALICE), group: 'sales' }, 'events[1]: CallDelivered is an identity event and takes no group'],
      ['an identity on a group event', { event: 'AgentStateChanged', group: 'sales', identity: ALICE }, 'events[1]: AgentStateChanged is a group event and takes no identity'],
      ['a group event without a group', { event: 'QueueStatusChanged' }, 'events[1]: group must be a group name'],
      ['data over 16 KiB', { ...call(ALICE), data: { blob: 'x'.repeat(16 * 1024) } }, 'events[1]: data is larger than 16 KiB'],
      ['data that is not an object', { ...call(ALICE), data: [1, 2] }, 'events[1]: data must be a JSON object'],
      ['an unknown field', { ...call(ALICE), priority: 'high' }, 'events[1]: unknown fields: priority'],
      ['an occurredAt that is not a date', { ...call(ALICE), occurredAt: 'yesterday' }, `events[1]: ${BAD_DATE}`],
      ['an occurredAt that is not ISO-8601', { ...call(ALICE), occurredAt: 'Sat, 28 Nov 2026 10:15:30 GMT' }, `events[1]: ${BAD_DATE}`],
      ['an item that is not an object', 'CallDelivered', 'events[1]: must be a JSON object'],
    ];

    it.each(badItems)('refuses a batch with %s whole, naming the item, and delivers nothing', async (_what, bad, message) => {
      const { socket } = await connect('alice', ALICE);
      expectError(await publish(gateway, platform, [call(ALICE, 'CallOriginated'), bad, call(ALICE, 'CallCleared')]), 400, message);
      await publishAccepted(gateway, platform, call(ALICE, 'CallFailed'));
      expect(await socket.nextEvent()).toMatchObject({ id: '1', event: 'CallFailed' });
    });

    it('names a single (non-array) bad event as "event"', async () => {
      expectError(await publish(gateway, platform, { event: 'NoSuchEvent', identity: ALICE }), 400, 'event: unknown event "NoSuchEvent"');
    });

    it('refuses a batch of 501 and an empty batch', async () => {
      const { socket } = await connect('alice', ALICE);
      const tooMany = Array.from({ length: 501 }, () => call(ALICE));
      expectError(await publish(gateway, platform, tooMany), 400, 'a batch holds at most 500 events, got 501');
      expectError(await publish(gateway, platform, []), 400, 'the batch is empty: send one event or an array of 1 to 500');
      await publishAccepted(gateway, platform, call(ALICE, 'CallFailed'));
      expect(await socket.nextEvent()).toMatchObject({ id: '1', event: 'CallFailed' });
    });

    it('refuses a user token with 403 insufficient_scope and no token with 401', async () => {
      const forbidden = await publish(gateway, await user('alice'), call(ALICE));
      expectError(forbidden, 403, 'the access token has insufficient scope: one of vora:events:publish is required');
      expect(forbidden.headers.get('www-authenticate')).toBe('Bearer realm="vora", error="insufficient_scope", scope="vora:events:publish"');
      const anonymous = await http(`${gateway.url}/events`, { body: call(ALICE) });
      expectError(anonymous, 401, 'an access token is required: send Authorization: Bearer <token>');
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="vora"/);
    });

    it('takes a 100 KiB batch (over the 16 KiB client limit) and refuses a body over INGRESS_MAX_BODY_BYTES with 413', async () => {
      const { socket } = await connect('alice', ALICE);
      const big = Array.from({ length: 10 }, (_, seq) => call(ALICE, 'CallHeld', { seq, blob: 'x'.repeat(10 * 1024) }));
      expect(JSON.stringify(big).length).toBeGreaterThan(100 * 1024);
      const accepted = await publish(gateway, platform, big);
      expect(accepted.status).toBe(202);
      expect(accepted.body).toEqual({ accepted: 10 });
      expect((await socket.events(10)).map((e) => e.data.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

      const huge = Array.from({ length: 80 }, () => call(ALICE, 'CallHeld', { blob: 'x'.repeat(15 * 1024) }));
      expect(JSON.stringify(huge).length).toBeGreaterThan(gateway.config.http.ingressMaxBodyBytes);
      expectError(await publish(gateway, platform, huge), 413);
      await publishAccepted(gateway, platform, call(ALICE, 'CallFailed'));
      expect(await socket.nextEvent()).toMatchObject({ id: '11', event: 'CallFailed' });
    });
  });
});
