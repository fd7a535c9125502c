import { Metrics } from '../infra/metrics/metrics';
import { ClientMode } from '../auth/modes';
import { MemoryClusterEvents } from '../cluster/memory-cluster-events';
import { GatewayConfig } from '../config/gateway-config';
import { IdentityService } from '../identity/identity.service';
import { JsonDirectory } from '../identity/json-directory';
import { MemoryInstances } from '../cluster/memory-instances';
import { MemoryPresenceStore } from '../session/memory-presence.store';
import { MemorySessionStore } from '../session/memory-session.store';
import { MemorySubscriptionStore } from '../subscriptions/memory-subscription.store';
import { CONNECTION_TYPES, Session } from '../session/session';
import { SessionEvents } from '../session/session-events';
import { EventCatalogue } from '../catalogue/catalogue';
import * as envelope from './envelope';
import { Delivery } from './event-buffer.store';
import { EventRouter } from './event-router';
import { parsePublished } from './ingress';
import { MemoryEventBufferStore } from './memory-event-buffer.store';
import { MemoryDeliveryBus } from './memory-delivery-bus';
import { SubscriptionCache } from '../subscriptions/subscription-cache';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { RoutingTable } from './routing-table';

const ALICE = '+905321110001';
const ALICE_FIXED = '+902121110001';
const BOB = '+905321110002';
const CAROL = '+905321110003';
const CAROL_FIXED = '+902121110003';
const DAVE = '+905321110004';
const MIKE = '+905321110006';

const directory = new JsonDirectory([
  { sub: 'alice', username: 'alice', identities: [ALICE, ALICE_FIXED], fixedNumber: ALICE_FIXED, groups: ['sales'], manages: [] },
  { sub: 'bob', username: 'bob', identities: [BOB], groups: ['sales'], manages: [] },
  { sub: 'carol', username: 'carol', identities: [CAROL, CAROL_FIXED], groups: ['sales'], manages: ['sales', 'support'] },
  { sub: 'dave', username: 'dave', identities: [DAVE], groups: ['support'], manages: [] },
  { sub: 'mike', username: 'mike', identities: [MIKE], groups: ['support'], manages: ['support'] },
]);

const catalogue = new EventCatalogue([
  { name: 'CallDelivered', target: 'identity', modes: ['user', 'manager', 'ott'] },
  { name: 'CallCleared', target: 'identity', modes: ['user', 'manager', 'ott'] },
  { name: 'PresenceChanged', target: 'identity', modes: ['user', 'manager'] },
  { name: 'AgentStateChanged', target: 'group', modes: ['manager'] },
]);

const config = { ws: { eventBufferSize: 100 }, session: { idleTtlS: 60 } } as GatewayConfig;

describe('EventRouter', () => {
  let sessions: MemorySessionStore;
  let subscriptionStore: MemorySubscriptionStore;
  let cluster: MemoryClusterEvents;
  let buffer: MemoryEventBufferStore;
  let deliveryBus: MemoryDeliveryBus;
  let sessionEvents: SessionEvents;
  let router: EventRouter;
  let table: RoutingTable;
  let presence: MemoryPresenceStore;
  let instances: MemoryInstances;
  let delivered: Delivery[][];
  let counter = 0;

  /**
   * Opens a session as the setup does, with a socket on this instance unless
   * `socket` is false; sessions are keyed by (sub, identity, connectionType),
   * so each gets the next free type.
   */
  async function open(sub: string, identity: string, mode: ClientMode = 'user', socket = true): Promise<Session> {
    const taken = (await sessions.listByUser(sub)).filter((s) => s.identity === identity).map((s) => s.connectionType);
    const connectionType = CONNECTION_TYPES.find((type) => !taken.includes(type));
    if (!connectionType) throw new Error(`no connection type left for ${sub} on ${identity}`);
    const session: Session = {
      id: `${sub}-${mode}-${identity}-${++counter}`,
      sub,
      mode,
      identity,
      connectionType,
      holdUpMode: false,
      tokenHash: `hash-${counter}`,
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    };
    await sessions.open(session, { ttlS: 60, maxPerUser: 100 });
    await sessionEvents.emit('opened', session);
    await cluster.publish('SessionOpened', { sessionId: session.id, sub, identity });
    if (socket) await connect(session);
    return session;
  }

  /** A socket of the session opened on this instance, as the socket registry announces it. */
  const connect = async (session: Session, connectionId = `c-${session.id}`) => {
    const holder = { instanceId: instances.self, connectionId };
    await presence.connected(session.id, holder, 60_000);
    await cluster.publish('SocketClaimed', { sessionId: session.id, ...holder });
  };

  const route = (body: unknown) => router.route(parsePublished(body, catalogue));
  const call = (identity: string, event = 'CallDelivered', data: Record<string, unknown> = {}) => ({ event, identity, data });
  const agent = (group: string) => ({ event: 'AgentStateChanged', group, data: { agent: 'bob' } });
  /** Every delivery since the start, as [sessionId, id, event, identity, group]. */
  const summary = () =>
    delivered.flat().map((d) => {
      const frame = JSON.parse(d.frame);
      return [d.sessionId, d.id, frame.event, frame.identity, frame.group];
    });
  const recipients = () => [...new Set(delivered.flat().map((d) => d.sessionId))].sort();

  beforeEach(async () => {
    sessions = new MemorySessionStore();
    subscriptionStore = new MemorySubscriptionStore();
    cluster = new MemoryClusterEvents();
    buffer = new MemoryEventBufferStore(config);
    deliveryBus = new MemoryDeliveryBus();
    sessionEvents = new SessionEvents();
    const service = new SubscriptionService(config, catalogue, subscriptionStore, sessions, undefined as unknown as IdentityService, cluster, sessionEvents);
    const cache = new SubscriptionCache(service, cluster);
    await cache.onModuleInit();
    presence = new MemoryPresenceStore(sessions);
    instances = new MemoryInstances();
    table = new RoutingTable(sessions, presence, directory, instances, cluster);
    router = new EventRouter(table, cluster, cache, buffer, deliveryBus, sessionEvents, new Metrics(), config);
    await router.onModuleInit();
    delivered = [];
    deliveryBus.onDeliveries((deliveries) => delivered.push([...deliveries]));
  });
  afterEach(() => {
    table.onModuleDestroy();
    sessions.onModuleDestroy();
    subscriptionStore.onModuleDestroy();
    buffer.onModuleDestroy();
    jest.restoreAllMocks();
  });

  describe('identity events', () => {
    it('reach every session of the identity and no one else', async () => {
      const web = await open('alice', ALICE);
      const desktop = await open('alice', ALICE);
      await open('alice', ALICE_FIXED);
      await open('bob', BOB);
      await route(call(ALICE));
      expect(summary()).toEqual([
        [web.id, 1, 'CallDelivered', ALICE, undefined],
        [desktop.id, 1, 'CallDelivered', ALICE, undefined],
      ]);
    });

    it('reach a session of another account holding the same identity', async () => {
      // A shared line: two accounts may hold one number; each session gets the event once.
      const other = await open('bob', ALICE);
      const own = await open('alice', ALICE);
      await route(call(ALICE));
      expect(recipients()).toEqual([other.id, own.id].sort());
    });

    it('give each session its own consecutive ids', async () => {
      const first = await open('alice', ALICE);
      await route(call(ALICE));
      const second = await open('alice', ALICE);
      await route([call(ALICE), call(ALICE, 'CallCleared')]);
      expect(summary()).toEqual([
        [first.id, 1, 'CallDelivered', ALICE, undefined],
        [first.id, 2, 'CallDelivered', ALICE, undefined],
        [second.id, 1, 'CallDelivered', ALICE, undefined],
        [first.id, 3, 'CallCleared', ALICE, undefined],
        [second.id, 2, 'CallCleared', ALICE, undefined],
      ]);
    });

    it('are kept for a session with no socket, and handed to no instance', async () => {
      const session = await open('alice', ALICE, 'user', false);
      const deliver = jest.spyOn(deliveryBus, 'deliver');
      await route([call(ALICE), call(ALICE)]);
      expect((await buffer.readAfter(session.id, 0)).newestId).toBe(2);
      expect(deliver).not.toHaveBeenCalled();
    });
  });

  describe('group events', () => {
    it('reach the manager-mode sessions of the managers of the group only', async () => {
      const carolManager = await open('carol', CAROL, 'manager');
      const carolFixedManager = await open('carol', CAROL_FIXED, 'manager');
      await open('carol', CAROL, 'user');
      await open('alice', ALICE, 'user');
      await open('bob', BOB, 'manager'); // bob manages nothing
      await open('dave', DAVE);
      await open('mike', MIKE, 'manager'); // manages support, not sales
      await route(agent('sales'));
      expect(summary()).toEqual([
        [carolManager.id, 1, 'AgentStateChanged', CAROL, 'sales'],
        [carolFixedManager.id, 1, 'AgentStateChanged', CAROL_FIXED, 'sales'],
      ]);
    });

    it('reach every manager of the group', async () => {
      const carol = await open('carol', CAROL, 'manager');
      const mike = await open('mike', MIKE, 'manager');
      await route(agent('support'));
      expect(recipients()).toEqual([carol.id, mike.id].sort());
    });

    it('reach no one for a group without managers', async () => {
      await open('alice', ALICE);
      const append = jest.spyOn(buffer, 'append');
      await route(agent('nobody-manages-this'));
      expect(append).not.toHaveBeenCalled();
      expect(delivered).toEqual([]);
    });
  });

  describe('subscriptions', () => {
    it('filter each session by its subscription and mode', async () => {
      const alice = await open('alice', ALICE);
      await subscriptionStore.put('alice', ALICE, { subscribeAll: false, events: ['CallCleared'] }, 60);
      const ott = await open('alice', ALICE_FIXED, 'ott');
      await route([call(ALICE), call(ALICE, 'CallCleared'), call(ALICE_FIXED, 'PresenceChanged'), call(ALICE_FIXED)]);
      expect(summary()).toEqual([
        [alice.id, 1, 'CallCleared', ALICE, undefined],
        [ott.id, 1, 'CallDelivered', ALICE_FIXED, undefined],
      ]);
    });

    it('apply a change as soon as it is announced on the cluster bus', async () => {
      const alice = await open('alice', ALICE);
      await route(call(ALICE));
      await subscriptionStore.put('alice', ALICE, { subscribeAll: false, events: ['CallCleared'] }, 60);
      await cluster.publish('SubscriptionChanged', { sub: 'alice', identity: ALICE });
      await route([call(ALICE), call(ALICE, 'CallCleared')]);
      expect(summary()).toEqual([
        [alice.id, 1, 'CallDelivered', ALICE, undefined],
        [alice.id, 2, 'CallCleared', ALICE, undefined],
      ]);
    });

    it('are per (account, identity): a manager’s subscription does not filter a group event it may not choose', async () => {
      const carol = await open('carol', CAROL, 'manager');
      await subscriptionStore.put('carol', CAROL, { subscribeAll: false, events: ['CallDelivered'] }, 60);
      await route([agent('sales'), call(CAROL)]);
      expect(summary()).toEqual([[carol.id, 1, 'CallDelivered', CAROL, undefined]]);
    });
  });

  describe('serialization', () => {
    it('serializes the envelope once per event and recipient identity', async () => {
      const tails = jest.spyOn(envelope, 'frameTail');
      await open('alice', ALICE);
      await open('alice', ALICE);
      await open('bob', ALICE);
      await route(call(ALICE));
      expect(tails).toHaveBeenCalledTimes(1);

      tails.mockClear();
      await open('carol', CAROL, 'manager');
      await open('carol', CAROL, 'manager');
      await open('carol', CAROL_FIXED, 'manager');
      await route(agent('sales'));
      // Group events name each recipient's identity: one tail per identity.
      expect(tails).toHaveBeenCalledTimes(2);
      const frames = delivered.at(-1)!.map((d) => d.frame);
      expect(frames[0]).toBe(frames[1]);
      expect(JSON.parse(frames[2]).identity).toBe(CAROL_FIXED);
    });

    it('serializes an event\'s data once, at ingress, whatever its recipients', async () => {
      let serialized = 0;
      const data = { agent: 'bob', probe: { toJSON: () => ++serialized } };
      await open('carol', CAROL, 'manager');
      await open('carol', CAROL_FIXED, 'manager');
      await open('mike', MIKE, 'manager');
      await route({ event: 'AgentStateChanged', group: 'sales', data });
      expect(recipients()).toHaveLength(2);
      expect(serialized).toBe(1);
    });

    it('looks up each target once per batch, in one call, however many events name it and sessions the instance holds', async () => {
      for (let i = 0; i < 50; i++) await open(`other-${i}`, `+9053299${String(i).padStart(5, '0')}`);
      await open('alice', ALICE);
      await open('bob', BOB);
      const lookups = jest.spyOn(sessions, 'listByIdentities');
      const everyone = jest.spyOn(sessions, 'listByUser');
      await route([call(ALICE), call(BOB), call(ALICE), call(ALICE)]);
      expect(lookups).toHaveBeenCalledTimes(1);
      expect([...lookups.mock.calls[0][0]].sort()).toEqual([ALICE, BOB].sort());
      expect(everyone).not.toHaveBeenCalled();
      expect(delivered.flat()).toHaveLength(4);
    });

    it('builds frames as the envelope of SPEC section 4', async () => {
      await open('alice', ALICE);
      await route({ ...call(ALICE, 'CallDelivered', { callId: 'c-1' }), occurredAt: '2026-11-28T10:15:30.120Z' });
      expect(delivered[0][0].frame).toBe(
        '{"type":"event","id":"1","event":"CallDelivered","identity":"+905321110001","timestamp":"2026-11-28T10:15:30.120Z","data":{"callId":"c-1"}}',
      );
    });
  });

  describe('batches', () => {
    it('append once and deliver once per batch, in batch order', async () => {
      const alice = await open('alice', ALICE);
      const bob = await open('bob', BOB);
      const append = jest.spyOn(buffer, 'append');
      const deliver = jest.spyOn(deliveryBus, 'deliver');
      await route([call(ALICE, 'CallDelivered', { n: 1 }), call(BOB), call(ALICE, 'CallCleared', { n: 2 })]);
      expect(append).toHaveBeenCalledTimes(1);
      expect(append.mock.calls[0][0].map((entry) => entry.sessionId)).toEqual([alice.id, bob.id, alice.id]);
      expect(deliver).toHaveBeenCalledTimes(1);
      expect(summary()).toEqual([
        [alice.id, 1, 'CallDelivered', ALICE, undefined],
        [bob.id, 1, 'CallDelivered', BOB, undefined],
        [alice.id, 2, 'CallCleared', ALICE, undefined],
      ]);
    });

    it('append nothing when no session matches', async () => {
      const append = jest.spyOn(buffer, 'append');
      const deliver = jest.spyOn(deliveryBus, 'deliver');
      await route([call(ALICE), agent('sales')]);
      expect(append).not.toHaveBeenCalled();
      expect(deliver).not.toHaveBeenCalled();
    });

    it('number concurrent batches in the order they were accepted', async () => {
      const alice = await open('alice', ALICE);
      await Promise.all(Array.from({ length: 20 }, (_, n) => route([call(ALICE, 'CallDelivered', { n }), call(ALICE, 'CallCleared', { n })])));
      const frames = delivered.flat().map((d) => JSON.parse(d.frame));
      expect(frames.map((f) => Number(f.id))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(frames.map((f) => f.data.n)).toEqual(Array.from({ length: 40 }, (_, i) => Math.floor(i / 2)));
      expect(new Set(delivered.flat().map((d) => d.sessionId))).toEqual(new Set([alice.id]));
    });

    it('show a tap the routed events of its name only, each with its recipients and their deliveries', async () => {
      const alice = await open('alice', ALICE);
      const bob = await open('bob', BOB);
      const seen: Array<[string, string, Array<[string, number]>]> = [];
      router.tap('CallCleared', (event, recipients) =>
        seen.push([event.event, event.identity!, recipients.map(({ session, delivery }) => [session.id, delivery.id])]),
      );
      await route([call(ALICE), call(BOB, 'CallCleared'), call(ALICE, 'CallCleared'), call(DAVE, 'CallCleared')]);
      expect(seen).toEqual([
        ['CallCleared', BOB, [[bob.id, 1]]],
        ['CallCleared', ALICE, [[alice.id, 2]]],
      ]);
    });

    it('number batches in the order they were accepted when an earlier batch\'s lookup is slower', async () => {
      const alice = await open('alice', ALICE);
      const lookUp = sessions.listByIdentities.bind(sessions);
      jest
        .spyOn(sessions, 'listByIdentities')
        .mockImplementationOnce(async (identities) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return lookUp(identities);
        });
      await Promise.all([route(call(ALICE, 'CallDelivered', { n: 1 })), route(call(ALICE, 'CallCleared', { n: 2 }))]);
      expect(summary()).toEqual([
        [alice.id, 1, 'CallDelivered', ALICE, undefined],
        [alice.id, 2, 'CallCleared', ALICE, undefined],
      ]);
    });

    it('keeps routing after a batch failed', async () => {
      const alice = await open('alice', ALICE);
      jest.spyOn(buffer, 'append').mockRejectedValueOnce(new Error('store down'));
      await expect(route(call(ALICE))).rejects.toThrow('store down');
      await route(call(ALICE, 'CallCleared'));
      expect(summary()).toEqual([[alice.id, 1, 'CallCleared', ALICE, undefined]]);
    });
  });

  it('drops the buffer of a session that ended', async () => {
    const session = await open('alice', ALICE);
    await route(call(ALICE));
    await cluster.publish('SessionEnded', { sessionId: session.id, code: 4000, sub: 'alice', identity: ALICE });
    await sessions.remove(session.id);
    await sessionEvents.emit('ended', session);
    expect(await buffer.readAfter(session.id, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
  });
});
