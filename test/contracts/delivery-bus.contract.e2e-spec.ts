import { randomUUID } from 'node:crypto';
import { FRAME_HEAD, frameTail } from '../../src/events/envelope';
import { Delivery } from '../../src/events/event-buffer.store';
import { DeliveryBus } from '../../src/events/delivery-bus';
import { MemoryDeliveryBus } from '../../src/events/memory-delivery-bus';
import { RedisDeliveryBus } from '../../src/events/redis-delivery-bus';
import { eventually } from '../support/eventually';
import { contractAdapters, oneProcess, TwoInstances, twoInstances } from '../support/contract-adapters';

/** Two gateway instances' view of the bus: in memory both are the one process bus. */
type Harness = TwoInstances<DeliveryBus>;

const adapters = contractAdapters(
  (): Harness => oneProcess(new MemoryDeliveryBus()),
  (url): Promise<Harness> => twoInstances(url, (connection) => new RedisDeliveryBus(connection)),
);

const delivery = (sessionId: string, id: number): Delivery => {
  const tail = frameTail({
    event: 'CallDelivered',
    timestamp: '2026-11-28T10:15:30.120Z',
    dataJson: JSON.stringify({ callId: `c${id}`, remoteParty: 'Çağrı "x" \\ ☎' }),
  }, '+905321110001');
  return { sessionId, id, frame: FRAME_HEAD + id + tail };
};

describe.each(adapters)('DeliveryBus contract: %s', (_name, make) => {
  let harness: Harness;
  let received: { a: Delivery[][]; a2: Delivery[][]; b: Delivery[][] };
  const PROBE = `probe-${randomUUID()}`;

  /**
   * onDeliveries() cannot say when it is listening, so probe until a
   * delivery has gone round (pub/sub drops what is published before).
   */
  const settle = async (): Promise<void> => {
    const probe = delivery(PROBE, 1);
    await eventually(async () => {
      await harness.a.deliver([probe]);
      for (const got of Object.values(received)) expect(got.flat()).toContainEqual(probe);
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
    await settle();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('hands every delivery to every handler on every instance, unchanged', async () => {
    const batch = [delivery('s1', 1), delivery('s2', 7), delivery('s1', 2)];
    await harness.a.deliver(batch);
    await eventually(() => {
      expect(got(received.a)).toEqual([batch]);
      expect(got(received.a2)).toEqual([batch]);
      expect(got(received.b)).toEqual([batch]);
    });
  });

  it('keeps the order of batches from one instance', async () => {
    const batches = Array.from({ length: 20 }, (_, i) => [delivery('s1', i + 1)]);
    for (const batch of batches) await harness.b.deliver(batch);
    await eventually(() => {
      expect(got(received.a)).toEqual(batches);
      expect(got(received.b)).toEqual(batches);
    });
  });

  it('accepts an empty batch', async () => {
    await expect(harness.a.deliver([])).resolves.toBeUndefined();
    const marker = [delivery('marker', 1)];
    await harness.a.deliver(marker);
    // Each instance hears the bus on a connection of its own: which hears it first is not promised.
    await eventually(() => {
      expect(got(received.a)).toEqual([marker]);
      expect(got(received.b)).toEqual([marker]);
    });
  });
});
