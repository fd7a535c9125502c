import { randomUUID } from 'node:crypto';
import { ClusterEvents } from '../../src/cluster/cluster-events';
import { MemoryClusterEvents } from '../../src/cluster/memory-cluster-events';
import { RedisClusterEvents } from '../../src/cluster/redis-cluster-events';
import { eventually } from '../support/eventually';
import { contractAdapters, oneProcess, TwoInstances, twoInstances } from '../support/contract-adapters';

/** Two gateway instances' view of the bus: in memory both are the one process bus. */
type Harness = TwoInstances<ClusterEvents>;

const adapters = contractAdapters(
  (): Harness => oneProcess(new MemoryClusterEvents()),
  (url): Promise<Harness> => twoInstances(url, (connection) => new RedisClusterEvents(connection)),
);

describe.each(adapters)('ClusterEvents contract: %s', (_name, make) => {
  let harness: Harness;
  let topic: string;

  beforeEach(async () => {
    harness = await make();
    topic = `vora:test:${randomUUID()}`;
  });
  afterEach(async () => {
    await harness.close();
  });

  it('delivers a message published after subscribe() resolved to every subscriber, on every instance', async () => {
    const onA: string[] = [];
    const onB: string[] = [];
    const alsoOnB: string[] = [];
    await harness.a.subscribe(topic, (m) => onA.push(m));
    await harness.b.subscribe(topic, (m) => onB.push(m));
    await harness.b.subscribe(topic, (m) => alsoOnB.push(m));
    await harness.a.publish(topic, '{"sessionId":"s1","code":4000}');
    await eventually(() => {
      for (const received of [onA, onB, alsoOnB]) expect(received).toEqual(['{"sessionId":"s1","code":4000}']);
    });
  });

  it('keeps the order of one publisher on one topic', async () => {
    const received: string[] = [];
    await harness.b.subscribe(topic, (m) => received.push(m));
    const sent = Array.from({ length: 50 }, (_, i) => `message ${i} ☎`);
    for (const message of sent) await harness.a.publish(topic, message);
    await eventually(() => expect(received).toEqual(sent));
  });

  it('does not cross topics', async () => {
    const other = `${topic}:other`;
    const onTopic: string[] = [];
    const onOther: string[] = [];
    await harness.b.subscribe(topic, (m) => onTopic.push(m));
    await harness.b.subscribe(other, (m) => onOther.push(m));
    await harness.a.publish(other, 'for other');
    await harness.a.publish(topic, 'for topic');
    await eventually(() => {
      expect(onTopic).toEqual(['for topic']);
      expect(onOther).toEqual(['for other']);
    });
  });

  it('publishes to a topic nobody listens to without failing', async () => {
    await expect(harness.a.publish(`${topic}:nobody`, 'x')).resolves.toBeUndefined();
  });

  it('keeps delivering to other handlers when one throws', async () => {
    const received: string[] = [];
    await harness.b.subscribe(topic, () => {
      throw new Error('handler bug');
    });
    await harness.b.subscribe(topic, (m) => received.push(m));
    if (harness.a === harness.b) return; // in memory a throwing handler reaches the publisher, like EventEmitter
    await harness.a.publish(topic, 'still here');
    await eventually(() => expect(received).toEqual(['still here']));
  });
});
