import { randomUUID } from 'node:crypto';
import { ClusterEvents, SessionEnded, SocketClaimed, SubscriptionChanged } from '../../src/cluster/cluster-events';
import { MemoryClusterEvents } from '../../src/cluster/memory-cluster-events';
import { RedisClusterEvents } from '../../src/cluster/redis-cluster-events';
import { eventually } from '../support/eventually';
import { contractAdapters, oneProcess, TwoInstances, twoInstances } from '../support/contract-adapters';

/** Two gateway instances' view of the cluster events: in memory both are the one process's. */
type Harness = TwoInstances<ClusterEvents>;

const adapters = contractAdapters(
  (): Harness => oneProcess(new MemoryClusterEvents()),
  (url): Promise<Harness> => twoInstances(url, (connection) => new RedisClusterEvents(connection)),
);

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
    await harness.a.publish('SocketClaimed', { sessionId: sub, connectionId: 'c1' });
    await harness.a.publish('SubscriptionChanged', { sub, identity: '+905321110001' });
    await eventually(() => {
      expect(changed).toEqual([{ sub, identity: '+905321110001' }]);
      expect(claimed).toEqual([{ sessionId: sub, connectionId: 'c1' }]);
    });
  });

  it('publishes an event nobody listens to without failing', async () => {
    await expect(harness.a.publish('SocketClaimed', { sessionId: sub, connectionId: 'nobody' })).resolves.toBeUndefined();
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
});
