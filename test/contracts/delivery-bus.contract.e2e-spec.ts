import { randomUUID } from 'node:crypto';
import { MemoryInstances } from '../../src/cluster/memory-instances';
import { RedisInstances } from '../../src/cluster/redis-instances';
import { FRAME_HEAD, frameTail } from '../../src/events/envelope';
import { Delivery } from '../../src/events/event-buffer.store';
import { DeliveryBus } from '../../src/events/delivery-bus';
import { MemoryDeliveryBus } from '../../src/events/memory-delivery-bus';
import { RedisDeliveryBus } from '../../src/events/redis-delivery-bus';
import { Metrics } from '../../src/infra/metrics/metrics';
import { eventually } from '../support/eventually';
import { contractAdapters, TwoInstances } from '../support/contract-adapters';
import { connectRedis } from '../support/redis-server';

/** Two gateway instances' buses, each with its instance id and metrics: in memory both are the one process's. */
type Harness = TwoInstances<DeliveryBus> & { ids: { a: string; b: string }; metrics: { a: Metrics; b: Metrics } };

const adapters = contractAdapters(
  (): Harness => {
    const bus = new MemoryDeliveryBus();
    const self = new MemoryInstances().self;
    const metrics = new Metrics();
    return { a: bus, b: bus, ids: { a: self, b: self }, metrics: { a: metrics, b: metrics }, close: async () => undefined };
  },
  async (where): Promise<Harness> => {
    const [first, second] = await Promise.all([connectRedis(where), connectRedis(where)]);
    const [instancesA, instancesB] = [new RedisInstances(first), new RedisInstances(second)];
    const metrics = { a: new Metrics(), b: new Metrics() };
    return {
      a: new RedisDeliveryBus(first, instancesA, metrics.a),
      b: new RedisDeliveryBus(second, instancesB, metrics.b),
      ids: { a: instancesA.self, b: instancesB.self },
      metrics,
      close: async () => {
        await Promise.all([first.close(), second.close()]);
      },
    };
  },
);

const delivery = (sessionId: string, id: number): Delivery => {
  const tail = frameTail({
    event: 'CallDelivered',
    timestamp: '2026-11-28T10:15:30.120Z',
    dataJson: JSON.stringify({ callId: `c${id}`, remoteParty: 'Çağrı "x" \\ ☎' }),
  }, '+905321110001');
  return { sessionId, id, frame: FRAME_HEAD + id + tail };
};

const counted = async (metrics: Metrics, direction: string) =>
  (await metrics.busDeliveries.get()).values.find((value) => value.labels.direction === direction)?.value ?? 0;

describe.each(adapters)('DeliveryBus contract: %s', (name, make) => {
  let harness: Harness;
  let received: { a: Delivery[][]; a2: Delivery[][]; b: Delivery[][] };
  const PROBE = `probe-${randomUUID()}`;
  const oneProcess = name === 'memory';

  /**
   * onDeliveries() cannot say when it is listening, so probe until a
   * delivery has gone round (pub/sub drops what is published before).
   */
  const listening = async (): Promise<void> => {
    let n = 0;
    await eventually(async () => {
      // Each probe its own id: once the latest arrived, none sent before it can still come (one connection, in order).
      const probe = delivery(PROBE, ++n);
      await harness.a.deliver(harness.ids.b, [probe]);
      await eventually(() => expect(received.b.flat()).toContainEqual(probe), { timeoutMs: 200 });
    });
  };
  /** What a handler received, without probes (which may still be arriving) or empty batches. */
  const got = (batches: Delivery[][]) => batches.filter((batch) => batch.length && batch[0].sessionId !== PROBE);

  beforeEach(async () => {
    harness = await make();
    received = { a: [], a2: [], b: [] };
    harness.a.onDeliveries((d) => received.a.push([...d]));
    harness.a.onDeliveries((d) => received.a2.push([...d]));
    harness.b.onDeliveries((d) => received.b.push([...d]));
    await listening();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('hands deliveries to every handler of the instance they are for, unchanged, and to no other instance', async () => {
    const batch = [delivery('s1', 1), delivery('s2', 7), delivery('s1', 2)];
    await harness.a.deliver(harness.ids.b, batch);
    // A marker behind the batch, from b to a: once a has it, a would have had the batch too.
    const marker = [delivery('marker', 1)];
    await harness.b.deliver(harness.ids.a, marker);
    await eventually(() => expect(got(received.a).at(-1)).toEqual(marker));
    expect(got(received.b)).toEqual(oneProcess ? [batch, marker] : [batch]);
    expect(got(received.a)).toEqual(oneProcess ? [batch, marker] : [marker]);
    expect(got(received.a2)).toEqual(got(received.a));
  });

  it('hands deliveries for its own sockets on at once, without a round trip', async () => {
    const batch = [delivery('s1', 1)];
    const sentBefore = await counted(harness.metrics.a, 'sent');
    await harness.a.deliver(harness.ids.a, batch);
    expect(got(received.a)).toEqual([batch]);
    expect(got(received.a2)).toEqual([batch]);
    if (!oneProcess) {
      expect(await counted(harness.metrics.a, 'own')).toBe(1);
      expect(await counted(harness.metrics.a, 'sent')).toBe(sentBefore);
    }
  });

  it('counts what it sent to another instance, and what that one received', async () => {
    if (oneProcess) return; // one instance: everything is its own
    const sentBefore = await counted(harness.metrics.a, 'sent');
    const receivedBefore = await counted(harness.metrics.b, 'received');
    await harness.a.deliver(harness.ids.b, [delivery('s1', 1), delivery('s1', 2)]);
    await eventually(async () => expect(await counted(harness.metrics.b, 'received')).toBe(receivedBefore + 2));
    expect(await counted(harness.metrics.a, 'sent')).toBe(sentBefore + 2);
    expect(await counted(harness.metrics.a, 'received')).toBe(0);
  });

  it('keeps the order of batches from one instance to another', async () => {
    const batches = Array.from({ length: 20 }, (_, i) => [delivery('s1', i + 1)]);
    for (const batch of batches) await harness.a.deliver(harness.ids.b, batch);
    await eventually(() => expect(got(received.b)).toEqual(batches));
  });

  it('accepts an empty batch', async () => {
    await expect(harness.a.deliver(harness.ids.b, [])).resolves.toBeUndefined();
    const marker = [delivery('marker', 1)];
    await harness.a.deliver(harness.ids.b, marker);
    await eventually(() => expect(got(received.b)).toEqual([marker]));
  });
});
