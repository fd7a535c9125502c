import { randomUUID } from 'node:crypto';
import { ClusterEvents, SessionEnded, SocketClaimed, SubscriptionChanged } from '../../src/cluster/cluster-events';
import { MemoryClusterEvents } from '../../src/cluster/memory-cluster-events';
import { RedisClusterEvents, SETTLE_TIMEOUT_MS } from '../../src/cluster/redis-cluster-events';
import { INSTANCES_KEY, RedisInstances } from '../../src/cluster/redis-instances';
import { Metrics } from '../../src/infra/metrics/metrics';
import { RedisConnection } from '../../src/infra/redis/redis-connection';
import { eventually } from '../support/eventually';
import { contractAdapters, oneProcess, TwoInstances } from '../support/contract-adapters';
import { connectRedis } from '../support/redis-server';

/** Two gateway instances' view of the cluster events: in memory both are the one process's. */
type Harness = TwoInstances<ClusterEvents> & { metrics: Metrics; registerGhost?: () => Promise<void>; registry?: { instances: RedisInstances; connection: RedisConnection } };

const adapters = contractAdapters(
  (): Harness => ({ ...oneProcess(new MemoryClusterEvents()), metrics: new Metrics() }),
  async (where): Promise<Harness> => {
    const [first, second] = await Promise.all([connectRedis(where), connectRedis(where)]);
    const metrics = new Metrics();
    const [instancesA, instancesB] = [new RedisInstances(first), new RedisInstances(second)];
    // Both in the registry, and each knowing the other, before anything is published.
    await instancesA.beat();
    await instancesB.beat();
    await instancesA.beat();
    return {
      a: new RedisClusterEvents(first, instancesA, metrics),
      b: new RedisClusterEvents(second, instancesB, new Metrics()),
      metrics,
      registry: { instances: instancesA, connection: first },
      // An instance that beat but listens to nothing: it never answers.
      registerGhost: async () => {
        await first.client.zadd(INSTANCES_KEY, Date.now() + 60_000, 'ghost');
        await instancesA.beat();
      },
      close: async () => {
        // Gone from the registry with their connections, as at shutdown: the next test waits for neither.
        await first.client.zrem(INSTANCES_KEY, 'ghost');
        await Promise.all([instancesA.beforeApplicationShutdown(), instancesB.beforeApplicationShutdown()]);
        await Promise.all([first.close(), second.close()]);
      },
    };
  },
);

const settleTimeouts = async (metrics: Metrics) =>
  (await metrics.clusterSettleTimeouts.get()).values.reduce((sum, value) => sum + value.value, 0);

describe.each(adapters)('ClusterEvents contract: %s', (_name, make) => {
  let harness: Harness;
  /** This test's own sub, so that nothing another test published can be heard. */
  let sub: string;

  beforeEach(async () => {
    harness = await make();
    sub = `user-${randomUUID()}`;
  });
  afterEach(async () => {
    await harness.close();
  });

  it('delivers an event published after listen() resolved to every listener, on every instance', async () => {
    const ended: SessionEnded = { sessionId: 's1', code: 4000, reason: 'logged out', sub, identity: '+905321110001' };
    const onA: SessionEnded[] = [];
    const onB: SessionEnded[] = [];
    const alsoOnB: SessionEnded[] = [];
    await harness.a.listen('SessionEnded', (e) => onA.push(e));
    await harness.b.listen('SessionEnded', (e) => onB.push(e));
    await harness.b.listen('SessionEnded', (e) => alsoOnB.push(e));
    await harness.a.publish('SessionEnded', ended);
    await eventually(() => {
      for (const received of [onA, onB, alsoOnB]) expect(received).toEqual([ended]);
    });
  });

  it('keeps the order of one publisher on one event name', async () => {
    const received: string[] = [];
    await harness.b.listen('SubscriptionChanged', (e) => e.sub === sub && received.push(e.identity));
    const sent = Array.from({ length: 50 }, (_, i) => `identity ${i} ☎`);
    for (const identity of sent) await harness.a.publish('SubscriptionChanged', { sub, identity });
    await eventually(() => expect(received).toEqual(sent));
  });

  it('does not cross event names', async () => {
    const changed: SubscriptionChanged[] = [];
    const claimed: SocketClaimed[] = [];
    await harness.b.listen('SubscriptionChanged', (e) => changed.push(e));
    await harness.b.listen('SocketClaimed', (e) => claimed.push(e));
    await harness.a.publish('SocketClaimed', { sessionId: sub, connectionId: 'c1', instanceId: 'i1' });
    await harness.a.publish('SubscriptionChanged', { sub, identity: '+905321110001' });
    await eventually(() => {
      expect(changed).toEqual([{ sub, identity: '+905321110001' }]);
      expect(claimed).toEqual([{ sessionId: sub, connectionId: 'c1', instanceId: 'i1' }]);
    });
  });

  it('publishes an event nobody listens to without failing', async () => {
    await expect(harness.a.publish('SocketClaimed', { sessionId: sub, connectionId: 'nobody', instanceId: 'i1' })).resolves.toBeUndefined();
    await expect(harness.a.publish('SocketReleased', { sessionId: sub, connectionId: 'nobody', instanceId: 'i1' }, { settled: true })).resolves.toBeUndefined();
  });

  it('keeps delivering to other listeners when one throws', async () => {
    const received: string[] = [];
    await harness.b.listen('SubscriptionChanged', () => {
      throw new Error('handler bug');
    });
    await harness.b.listen('SubscriptionChanged', (e) => e.sub === sub && received.push(e.identity));
    if (harness.a === harness.b) return; // in memory a throwing listener reaches the publisher, like EventEmitter
    await harness.a.publish('SubscriptionChanged', { sub, identity: 'still here' });
    await eventually(() => expect(received).toEqual(['still here']));
  });

  it('resolves a settled publish only once every instance\'s listeners are done, its own included', async () => {
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const entered: string[] = [];
    const done: string[] = [];
    await harness.a.listen('SessionOpened', async (e) => {
      if (e.sub === sub) done.push('a');
    });
    await harness.b.listen('SessionOpened', async (e) => {
      if (e.sub !== sub) return;
      entered.push('b');
      await gate;
      done.push('b');
    });
    let settled = false;
    const publishing = harness.a
      .publish('SessionOpened', { sessionId: 's1', sub, identity: '+905321110001' }, { settled: true })
      .then(() => (settled = true));
    await eventually(() => expect(entered).toEqual(['b']));
    expect(settled).toBe(false);
    openGate();
    await publishing;
    expect(done.sort()).toEqual(['a', 'b']);
    // Answered, not timed out.
    expect(await settleTimeouts(harness.metrics)).toBe(0);
  });

  it('resolves a settled publish after a bound when an instance alive in the registry does not answer, and counts it', async () => {
    if (!harness.registerGhost) return; // one process: nobody else to wait for
    await harness.registerGhost();
    await harness.a.listen('SubscriptionChanged', () => undefined);
    const startedAt = Date.now();
    await harness.a.publish('SubscriptionChanged', { sub, identity: '+905321110001' }, { settled: true });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(SETTLE_TIMEOUT_MS - 50);
    expect(await settleTimeouts(harness.metrics)).toBe(1);
  });

  it('tells an instance whose registry entry lapsed, a beat after it is back, that the others counted it dead meanwhile; and only then', async () => {
    if (!harness.registry) return; // one process: it is never away
    const { instances, connection } = harness.registry;
    let told = 0;
    instances.onRejoined(() => told++);
    await instances.beat();
    await instances.beat();
    expect(told).toBe(0);
    // The entry gone, as after an outage longer than its TTL (or a prune by another instance).
    await connection.client.zrem(INSTANCES_KEY, instances.self);
    await instances.beat();
    expect(told).toBe(0);
    await instances.beat();
    expect(told).toBe(1);
    await instances.beat();
    expect(told).toBe(1);
  });
});
