import { EventCatalogue } from '../src/catalogue/catalogue';
import { SubscriptionStore } from '../src/subscriptions/subscription.store';
import { expectInsufficientScope, useClientApi } from './support/client-api';
import { ALICE, ALICE_FIXED, BOB, CAROL, eventsOf, OSCAR_FIXED } from './support/fixtures';
import { expectError, http } from './support/harness';

describe('client REST API', () => {
  const { gateway, token, setup, subscribe } = useClientApi();

  describe('POST /identity/{identity}/eventSubscription', () => {
    it('accepts the identity with a literal + and with %2B', async () => {
      await setup(ALICE);
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
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toEqual({ subscribeAll: false, events: ['CallCleared'] });
    });

    it('lists every event a user may have for subscribeAll: 14, no group events', async () => {
      await setup(ALICE);
      const result = await subscribe(ALICE, { subscribeAll: true });
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
      await setup(OSCAR_FIXED, 'MOBILE', 'oscar', 'vora:ott');
      const result = await subscribe(OSCAR_FIXED, { subscribeAll: true }, 'oscar', 'vora:ott');
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
      await setup(ALICE);
      const result = await subscribe(ALICE, { subscribeAll: false, events: ['CallDelivered', 'PresenceChanged'] });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ subscribeAll: false, events: ['CallDelivered', 'PresenceChanged'] });
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toEqual({
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
      await setup(ALICE);
      const result = await subscribe(ALICE, { subscribeAll: false, events: ['CallDelivered', 'CallTeleported', 'Nope'] });
      expectError(result, 400, 'unknown events: CallTeleported, Nope');
      expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toEqual({ subscribeAll: true, events: [] });
    });

    it('answers 400 to duplicate events', async () => {
      await setup(ALICE);
      expectError(
        await subscribe(ALICE, { subscribeAll: false, events: ['CallDelivered', 'CallCleared', 'CallDelivered'] }),
        400,
        'events are listed more than once: CallDelivered',
      );
    });

    it('answers 400 to subscribeAll false without events', async () => {
      await setup(ALICE);
      const message = 'events must list at least one event when subscribeAll is false';
      expectError(await subscribe(ALICE, { subscribeAll: false }), 400, message);
      expectError(await subscribe(ALICE, { subscribeAll: false, events: [] }), 400, message);
    });

    it('answers 400 to subscribeAll true with events', async () => {
      await setup(ALICE);
      expectError(
        await subscribe(ALICE, { subscribeAll: true, events: ['CallDelivered'] }),
        400,
        'events must be absent or empty when subscribeAll is true',
      );
    });

    it('answers 400 to a missing or non-boolean subscribeAll', async () => {
      await setup(ALICE);
      expectError(await subscribe(ALICE, { events: ['CallDelivered'] }), 400, /subscribeAll is required/);
      expectError(await subscribe(ALICE, { subscribeAll: 'true' }), 400, /subscribeAll must be a boolean/);
      expectError(await subscribe(ALICE, {}), 400, /subscribeAll is required/);
    });

    it('answers 400 to events that are not a list of names, and to unknown fields', async () => {
      await setup(ALICE);
      expectError(await subscribe(ALICE, { subscribeAll: false, events: 'CallDelivered' }), 400, /events must be a list of event names/);
      expectError(await subscribe(ALICE, { subscribeAll: false, events: [1] }), 400, /events must be a list of event names/);
      expectError(await subscribe(ALICE, { subscribeAll: true, filter: 'x' }), 400, 'invalid request body: unknown field "filter"');
    });

    it('answers 403 to an event the mode may not have', async () => {
      await setup(ALICE);
      expectError(
        await subscribe(ALICE, { subscribeAll: false, events: ['CallDelivered', 'QueueStatusChanged'] }),
        403,
        'mode user may not subscribe to: QueueStatusChanged',
      );
      await setup(OSCAR_FIXED, 'MOBILE', 'oscar', 'vora:ott');
      expectError(
        await subscribe(OSCAR_FIXED, { subscribeAll: false, events: ['PresenceChanged'] }, 'oscar', 'vora:ott'),
        403,
        'mode ott may not subscribe to: PresenceChanged',
      );
    });

    it('answers 403 to an identity that is not the caller\'s', async () => {
      await setup(BOB, 'WEB', 'bob');
      expectError(await subscribe(BOB, { subscribeAll: true }), 403, `identity ${BOB} is not assigned to this account`);
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await subscribe(ALICE, { subscribeAll: true }, 'mallory'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('answers 404 when the identity has no live session', async () => {
      expectError(
        await subscribe(ALICE, { subscribeAll: true }),
        404,
        `there is no live session for identity ${ALICE}; call /identity/setup first`,
      );
      // A session on the other identity does not count.
      await setup(ALICE_FIXED);
      expectError(await subscribe(ALICE, { subscribeAll: true }), 404);
    });

    it('answers 403 insufficient_scope to an administrator', async () => {
      await setup('erin.admin', 'WEB', 'erin', 'vora:admin');
      expectInsufficientScope(await subscribe('erin.admin', { subscribeAll: true }, 'erin', 'vora:admin'), 'vora:user vora:manager vora:ott');
    });
  });
});
