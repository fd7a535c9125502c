import type { RedisClient } from '../src/infra/redis/redis-connection';
import { INGRESS_GROUP, partitionKeys, partitionOf } from '../src/events/ingress-stream';
import { ALICE, BOB } from './support/fixtures';
import { eventually, GatewayProcess, http, TestSocket, useIssuer, useRedis, useRedisCluster } from './support/harness';

/** One Redis, and a Redis Cluster: the same promises on both. */
const TOPOLOGIES = ['Redis', 'a Redis Cluster'] as const;

/**
 * Scale-out on one Redis (SPEC section 10), with real gateway processes:
 * deliveries go to the instance that holds the socket and to no other,
 * routing caches stay exact under churn, a killed holder's sessions resume
 * elsewhere, and ingress partitions are each read by one live instance.
 */
describe.each(TOPOLOGIES)('scale-out on %s: three instances', (topology) => {
  // Declared first, so that the instances stop before the Redis and the issuer.
  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM'), c?.kill('SIGTERM')]);
    raw?.disconnect();
  });
  const redis = topology === 'Redis' ? useRedis() : useRedisCluster();
  const issuer = useIssuer();
  let raw: RedisClient;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let c: GatewayProcess;
  let alice: string;
  let bob: string;
  let core: string;

  const start = (env: Record<string, string> = {}) =>
    GatewayProcess.start({ ...issuer.env(), ...redis.env(), HEARTBEAT_INTERVAL_MS: '500', ...env });

  const setup = async (gateway: GatewayProcess, token: string, identity: string, connectionType = 'WEB'): Promise<string> => {
    const result = await http(`${gateway.url}/identity/setup`, { token, body: { connectionType, identity } });
    expect(result.status).toBe(200);
    return result.body.webSocketToken;
  };

  const post = async (gateway: GatewayProcess, events: unknown) => {
    const result = await http(`${gateway.url}/events`, { token: core, body: events });
    expect(result.status).toBe(202);
  };

  const seqEvents = (identity: string, from: number, count: number, event = 'PresenceChanged') =>
    Array.from({ length: count }, (_, i) => ({ event, identity, data: { seq: from + i } }));

  /** vora_bus_deliveries_total{direction} of one instance. */
  const busCount = async (gateway: GatewayProcess, direction: 'sent' | 'received' | 'own'): Promise<number> => {
    const text: string = (await http(`${gateway.url}/metrics`)).body;
    const line = text.split('\n').find((l) => l.startsWith(`vora_bus_deliveries_total{direction="${direction}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  const busCounts = async (gateway: GatewayProcess) => ({
    sent: await busCount(gateway, 'sent'),
    received: await busCount(gateway, 'received'),
    own: await busCount(gateway, 'own'),
  });

  beforeAll(async () => {
    raw = redis.client();
    [a, b, c] = await Promise.all([start(), start(), start()]);
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user', expiresInS: 3600 });
    bob = await issuer.sign({ sub: 'bob', scope: 'vora:user', expiresInS: 3600 });
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
    // Every instance in the registry of the others before anything is measured.
    await eventually(async () => expect(await raw.zcard('vora:instances')).toBe(3), { timeoutMs: 10_000 });
  });

  it('delivers to the instance that holds the socket only; the others receive nothing, and a session without a socket costs no delivery', async () => {
    const token = await setup(a, alice, ALICE);
    const { socket } = await TestSocket.connect(b.wsUrl, { token });
    // A second session with no socket: its events are buffered, and published nowhere.
    await setup(a, alice, ALICE, 'DESKTOP');
    const before = { a: await busCounts(a), b: await busCounts(b), c: await busCounts(c) };

    await post(c, seqEvents(ALICE, 0, 20));
    const events = await socket.events(20);
    expect(events.map((e) => e.data.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));

    const after = { a: await busCounts(a), b: await busCounts(b), c: await busCounts(c) };
    // c routed the batch: 20 deliveries to b, none for the socketless session.
    expect(after.c.sent - before.c.sent).toBe(20);
    expect(after.b.received - before.b.received).toBe(20);
    expect(after.a.received - before.a.received).toBe(0);
    expect(after.c.received - before.c.received).toBe(0);
    expect(after.a.sent - before.a.sent).toBe(0);
    // Routed by the holder itself: no message at all.
    await post(b, seqEvents(ALICE, 20, 5));
    expect((await socket.events(5)).map((e) => e.data.seq)).toEqual([20, 21, 22, 23, 24]);
    const own = await busCounts(b);
    expect(own.own - after.b.own).toBe(5);
    expect(own.received - after.b.received).toBe(0);
    await socket.close();
    await http(`${a.url}/logout/${encodeURIComponent(ALICE)}`, { token: alice, method: 'POST' });
  });

  it('sends the next events of a socket moved to another instance there, in order, with no duplicate', async () => {
    const token = await setup(a, bob, BOB);
    const first = await TestSocket.connect(b.wsUrl, { token });
    await post(a, seqEvents(BOB, 0, 10));
    const seen = await first.socket.events(10);
    await first.socket.close();

    // Events while no socket is open, then the socket comes back on another instance.
    await post(a, seqEvents(BOB, 10, 5));
    const second = await TestSocket.connect(c.wsUrl, { token, lastEventId: seen.at(-1).id });
    expect(second.welcome.recovered).toBe(true);
    seen.push(...(await second.socket.events(5)));
    const receivedBefore = await busCount(c, 'received');
    await post(a, seqEvents(BOB, 15, 10));
    seen.push(...(await second.socket.events(10)));

    expect(seen.map((e) => e.data.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(seen.map((e) => e.id)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    expect((await busCount(c, 'received')) - receivedBefore).toBe(10);
    expect(second.socket.pending()).toEqual([]);
    await second.socket.close();
    await http(`${a.url}/logout/${encodeURIComponent(BOB)}`, { token: bob, method: 'POST' });
  });

  it('treats the sockets of an instance killed with SIGKILL as closed within a few seconds, and resumes them elsewhere exactly', async () => {
    const victim = await start();
    try {
      await eventually(async () => expect(await raw.zcard('vora:instances')).toBe(4), { timeoutMs: 10_000 });
      const token = await setup(a, bob, BOB);
      const first = await TestSocket.connect(victim.wsUrl, { token });
      await post(a, seqEvents(BOB, 0, 10));
      const seen = await first.socket.events(10);

      await victim.kill('SIGKILL');
      await first.socket.closed();
      // Once the registry has dropped the victim, a routes BOB's events nowhere: they are buffered.
      await eventually(
        async () => {
          const sent = await busCount(a, 'sent');
          await post(a, [{ event: 'VoicemailWaiting', identity: BOB, data: { probe: true } }]);
          expect(await busCount(a, 'sent')).toBe(sent);
        },
        { timeoutMs: 10_000, intervalMs: 250 },
      );
      await post(a, seqEvents(BOB, 10, 20));

      const second = await TestSocket.connect(c.wsUrl, { token, lastEventId: seen.at(-1).id });
      expect(second.welcome.recovered).toBe(true);
      // The probes, then the 20 events published while no socket was open.
      const rest: any[] = [];
      while (rest.filter((e) => e.event === 'PresenceChanged').length < 20) rest.push(await second.socket.nextEvent());
      const presence = rest.filter((e) => e.event === 'PresenceChanged');
      expect(presence.map((e) => e.data.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 10 + i));
      // Every id once, in order, after the last one seen.
      const ids = rest.map((e) => Number(e.id));
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => 11 + i));
      await post(a, [{ event: 'PresenceChanged', identity: BOB, data: { sentinel: true } }]);
      expect(await second.socket.nextEvent()).toMatchObject({ id: String(11 + ids.length), data: { sentinel: true } });
      await second.socket.close();
      await http(`${a.url}/logout/${encodeURIComponent(BOB)}`, { token: bob, method: 'POST' });
    } finally {
      await victim.kill();
    }
  });

  it('keeps routing caches exact under churn: nothing after a logout answered, nothing a subscription excludes after its change answered', async () => {
    for (let round = 0; round < 3; round++) {
      const token = await setup(a, alice, ALICE);
      const { socket } = await TestSocket.connect(b.wsUrl, { token });

      // The platform publishes through c without pause, both kinds of event, each numbered.
      let seq = 0;
      let publishing = true;
      const published = (async () => {
        while (publishing) {
          const n = seq;
          seq += 2;
          await post(c, [
            { event: 'PresenceChanged', identity: ALICE, data: { seq: n } },
            { event: 'VoicemailWaiting', identity: ALICE, data: { seq: n + 1 } },
          ]);
        }
      })();

      await eventually(() => expect(socket.pending().length).toBeGreaterThan(4));
      const changed = await http(`${a.url}/identity/${encodeURIComponent(ALICE)}/eventSubscription`, {
        token: alice,
        body: { subscribeAll: false, events: ['VoicemailWaiting'] },
      });
      expect(changed.status).toBe(200);
      // Every batch posted from here on was accepted after the change was answered.
      const afterChange = seq;
      await eventually(() => expect(seq).toBeGreaterThan(afterChange + 10));

      const loggedOut = await http(`${a.url}/logout/${encodeURIComponent(ALICE)}`, { token: alice, method: 'POST' });
      expect(loggedOut.status).toBe(200);
      const afterLogout = seq;
      await eventually(() => expect(seq).toBeGreaterThan(afterLogout + 10));
      publishing = false;
      await published;

      expect((await socket.closed()).code).toBe(4000);
      const events: any[] = socket.pending().filter((m: any) => m.type === 'event');
      const excluded = events.filter((e) => e.event === 'PresenceChanged' && e.data.seq >= afterChange);
      expect(excluded).toEqual([]);
      expect(events.filter((e) => e.data.seq >= afterLogout)).toEqual([]);
      // Ids have no holes: what was delivered was delivered whole, in order.
      expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    }
  });
});

describe.each(TOPOLOGIES)('scale-out on %s: ingress partitions', (topology) => {
  const PARTITIONS = 4;
  let gateways: GatewayProcess[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill('SIGTERM')));
    raw?.disconnect();
  });
  const redis = topology === 'Redis' ? useRedis() : useRedisCluster();
  const issuer = useIssuer();
  let raw: RedisClient;
  let bob: string;

  const start = () =>
    GatewayProcess.start({
      ...issuer.env(),
      ...redis.env(),
      HEARTBEAT_INTERVAL_MS: '500',
      INGRESS_PARTITIONS: String(PARTITIONS),
    });

  /** Which instance (by pid) holds each partition's lease. */
  const holders = async (): Promise<Array<string | null>> =>
    Promise.all(Array.from({ length: PARTITIONS }, (_, p) => raw.get(partitionKeys(p, PARTITIONS).lease)));
  const pidOf = (gateway: GatewayProcess) => `-${gateway.child.pid}-`;

  beforeAll(async () => {
    raw = redis.client();
    gateways = [await start()];
    bob = await issuer.sign({ sub: 'bob', scope: 'vora:user', expiresInS: 3600 });
  });

  it('spreads the partitions over the live instances: a lone instance reads them all, and hands some on as others start', async () => {
    const [first] = gateways;
    await eventually(async () => expect((await holders()).every((holder) => holder?.includes(pidOf(first)))).toBe(true), {
      timeoutMs: 20_000,
    });
    gateways.push(...(await Promise.all([start(), start()])));
    const share = Math.ceil(PARTITIONS / gateways.length);
    const spread = async () => {
      const held = await holders();
      expect(held.every((holder) => holder !== null)).toBe(true);
      // SPEC section 10 allows one more than the share while leases move; once settled none holds more than it.
      for (const gateway of gateways) expect(held.filter((holder) => holder!.includes(pidOf(gateway))).length).toBeLessThanOrEqual(share);
    };
    await eventually(spread, { timeoutMs: 20_000, intervalMs: 200 });
    // And it stays so: no instance takes back what it gave up.
    for (let sample = 0; sample < 10; sample++) {
      await spread();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  });

  it('routes each entry once, in order per identity, and takes over a killed holder\'s partition with its pending entries', async () => {
    const setup = await http(`${gateways[0].url}/identity/setup`, { token: bob, body: { connectionType: 'WEB', identity: BOB } });
    expect(setup.status).toBe(200);
    const p = partitionOf({ identity: BOB }, PARTITIONS);
    const { stream, lease } = partitionKeys(p, PARTITIONS);
    expect(stream).toBe(`vora:ingress:{${p}}`);
    const holder = await eventually(async () => {
      const holder = await raw.get(lease);
      const gateway = gateways.find((g) => holder?.includes(pidOf(g)));
      if (!gateway) throw new Error(`partition ${p} is held by ${holder}`);
      return gateway;
    }, { timeoutMs: 20_000 });
    const survivor = gateways.find((g) => g !== holder)!;
    const { socket } = await TestSocket.connect(survivor.wsUrl, { token: setup.body.webSocketToken });
    const xadd = (seq: number) => raw.xadd(stream, '*', 'event', 'PresenceChanged', 'identity', BOB, 'data', JSON.stringify({ seq }));

    for (let seq = 0; seq < 50; seq++) await xadd(seq);
    expect((await socket.events(50)).map((e) => e.data.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));

    // Freeze the holder, let a consumer take entries and die without acknowledging them, then kill the holder.
    holder.child.kill('SIGSTOP');
    for (let seq = 50; seq < 60; seq++) await xadd(seq);
    const taken = await raw.xreadgroup('GROUP', INGRESS_GROUP, 'ghost', 'COUNT', 5, 'STREAMS', stream, '>');
    expect((taken as any)[0][1]).toHaveLength(5);
    await holder.kill('SIGKILL');

    // SPEC section 10: taken over within 10 s (the lease lasts 6 s); the wait is the promise's bound.
    const rest = await socket.events(10, 10_000);
    expect(rest.map((e) => e.data.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 50 + i));
    await raw.xadd(stream, '*', 'event', 'PresenceChanged', 'identity', BOB, 'data', JSON.stringify({ sentinel: true }));
    expect(await socket.nextEvent(10_000)).toMatchObject({ id: '61', data: { sentinel: true } });
    await eventually(async () => expect((await raw.xpending(stream, INGRESS_GROUP))[0]).toBe(0));
    expect(await raw.get(lease)).not.toContain(pidOf(holder));
    gateways = gateways.filter((g) => g !== holder);
    await socket.close();
  });
});
