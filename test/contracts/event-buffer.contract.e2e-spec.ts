import { randomUUID } from 'node:crypto';
import { GatewayConfig } from '../../src/config/gateway-config';
import { loadConfig } from '../../src/config/load-config';
import { FRAME_HEAD, frameTail } from '../../src/events/envelope';
import { Delivery, EventBufferStore } from '../../src/events/event-buffer.store';
import { MemoryEventBufferStore } from '../../src/events/memory-event-buffer.store';
import { RedisEventBufferStore } from '../../src/events/redis-event-buffer.store';
import { eventually } from '../support/eventually';
import { contractAdapters } from '../support/contract-adapters';
import { connectRedis, redisConfig } from '../support/redis-server';

interface Harness {
  buffer: EventBufferStore;
  close(): Promise<void>;
}

const CAPACITY = 5;

/** Builds a buffer of each adapter from one validated configuration. */
const adapters = contractAdapters(
  (env: Record<string, string>): Harness => {
    const buffer = new MemoryEventBufferStore(loadConfig(env));
    return { buffer, close: async () => buffer.onModuleDestroy() };
  },
  async (where, env: Record<string, string>): Promise<Harness> => {
    const connection = await connectRedis(where);
    const config: GatewayConfig = redisConfig(where, env);
    return { buffer: new RedisEventBufferStore(connection, config), close: () => connection.close() };
  },
);

/** A realistic tail, with quotes, unicode and nesting that must survive byte for byte. */
const tail = (n: number): string =>
  frameTail({
    event: 'CallDelivered',
    timestamp: new Date(Date.UTC(2026, 10, 28, 10, 0, n)).toISOString(),
    dataJson: JSON.stringify({ callId: `call-${n}`, direction: 'terminating', remoteParty: 'Çağrı "quoted" \u2028 \\ ☎', n }),
  }, '+905321110001');

describe.each(adapters)('EventBufferStore contract: %s', (_name, make) => {
  let harness: Harness;
  let buffer: EventBufferStore;
  const sid = () => `session-${randomUUID()}`;
  /** A session set up: its buffer opened. */
  const opened = async () => {
    const sessionId = sid();
    await buffer.open(sessionId);
    return sessionId;
  };

  /** Plain appends (no stream entry ids) are never skipped. */
  const append = async (sessionId: string, ...ns: number[]) =>
    (await buffer.append(ns.map((n) => ({ sessionId, tail: tail(n) })))) as Delivery[];

  describe('with room for 5 events for 60 s', () => {
    beforeEach(async () => {
      harness = await make({ EVENT_BUFFER_SIZE: String(CAPACITY), SESSION_IDLE_TTL_S: '60' });
      buffer = harness.buffer;
    });
    afterEach(async () => {
      await harness.close();
    });

    it('takes each stream entry once per session: a batch routed again after a crash is skipped', async () => {
      const [s, t] = [await opened(), await opened()];
      const first = await buffer.append([
        { sessionId: s, tail: tail(1), sourceId: '1700000000000-0' },
        { sessionId: t, tail: tail(1), sourceId: '1700000000000-0' },
        { sessionId: s, tail: tail(2), sourceId: '1700000000000-1' },
      ]);
      expect(first.map((d) => d?.id)).toEqual([1, 1, 2]);
      // The same entries again (a new reader claimed them), then one that is new; plain appends always count.
      const again = await buffer.append([
        { sessionId: s, tail: tail(1), sourceId: '1700000000000-0' },
        { sessionId: s, tail: tail(2), sourceId: '1700000000000-1' },
        { sessionId: t, tail: tail(1), sourceId: '1700000000000-0' },
        { sessionId: s, tail: tail(3), sourceId: '1700000000001-0' },
        { sessionId: t, tail: tail(9) },
      ], { retried: true });
      expect(again.map((d) => d?.id)).toEqual([undefined, undefined, undefined, 3, 2]);
      expect((await buffer.readAfter(s, 0)).events.map((e) => e.id)).toEqual([1, 2, 3]);
    });

    it('gives each session consecutive ids from 1 and frames exactly FRAME_HEAD + id + tail', async () => {
      const s = await opened();
      const deliveries = await append(s, 1, 2, 3);
      expect(deliveries).toEqual([1, 2, 3].map((id) => ({ sessionId: s, id, frame: FRAME_HEAD + id + tail(id) })));
      for (const { id, frame } of deliveries) expect(JSON.parse(frame)).toMatchObject({ type: 'event', id: String(id) });
      expect(await append(s, 4)).toEqual([{ sessionId: s, id: 4, frame: FRAME_HEAD + 4 + tail(4) }]);
      expect(await buffer.readAfter(s, 0)).toEqual({
        events: [1, 2, 3, 4].map((id) => ({ id, frame: FRAME_HEAD + id + tail(id) })),
        oldestId: 1,
        newestId: 4,
      });
    });

    it('answers an empty slice for a session it never saw, and buffers nothing for it', async () => {
      const never = sid();
      expect(await buffer.readAfter(never, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect(await buffer.append([])).toEqual([]);
      expect(await buffer.append([{ sessionId: never, tail: tail(1) }])).toEqual([undefined]);
      expect(await buffer.readAfter(never, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
    });

    it('opens an empty buffer whose first id is 1, replacing one of the same id', async () => {
      const s = await opened();
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      await append(s, 1, 2);
      await buffer.open(s);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect((await append(s, 3))[0].id).toBe(1);
    });

    it('keeps the newest events up to its capacity', async () => {
      const s = await opened();
      await append(s, 1, 2, 3);
      await append(s, 4, 5, 6, 7, 8);
      const kept = [4, 5, 6, 7, 8].map((id) => ({ id, frame: FRAME_HEAD + id + tail(id) }));
      expect(await buffer.readAfter(s, 0)).toEqual({ events: kept, oldestId: 4, newestId: 8 });
      expect(await buffer.readAfter(s, 2)).toEqual({ events: kept, oldestId: 4, newestId: 8 });
      expect(await buffer.readAfter(s, 6)).toEqual({ events: kept.slice(3), oldestId: 4, newestId: 8 });
      expect(await buffer.readAfter(s, 8)).toEqual({ events: [], oldestId: 4, newestId: 8 });
      expect(await buffer.readAfter(s, 100)).toEqual({ events: [], oldestId: 4, newestId: 8 });
    });

    it('reads a page: the oldest `limit` kept events after the id, with the same bounds', async () => {
      const s = await opened();
      await append(s, 1, 2, 3, 4, 5, 6, 7);
      const frame = (id: number) => ({ id, frame: FRAME_HEAD + id + tail(id) });
      expect(await buffer.readAfter(s, 0, 2)).toEqual({ events: [frame(3), frame(4)], oldestId: 3, newestId: 7 });
      expect(await buffer.readAfter(s, 4, 2)).toEqual({ events: [frame(5), frame(6)], oldestId: 3, newestId: 7 });
      expect(await buffer.readAfter(s, 6, 2)).toEqual({ events: [frame(7)], oldestId: 3, newestId: 7 });
      expect(await buffer.readAfter(s, 7, 2)).toEqual({ events: [], oldestId: 3, newestId: 7 });
      expect(await buffer.readAfter(s, 1, 100)).toEqual(await buffer.readAfter(s, 1));
    });

    it('spends every id of a batch larger than its capacity and keeps the newest', async () => {
      const s = await opened();
      const ns = Array.from({ length: 12 }, (_, i) => i + 1);
      const deliveries = await append(s, ...ns);
      expect(deliveries.map((d) => d.id)).toEqual(ns);
      const slice = await buffer.readAfter(s, 0);
      expect(slice.events.map((e) => e.id)).toEqual([8, 9, 10, 11, 12]);
      expect(slice.events[4].frame).toBe(FRAME_HEAD + 12 + tail(12));
      expect([slice.oldestId, slice.newestId]).toEqual([8, 12]);
    });

    it('appends for many sessions in one call, in order per session', async () => {
      const [a, b, c] = [await opened(), await opened(), await opened()];
      const order: Array<[string, number]> = [
        [a, 1],
        [b, 2],
        [a, 3],
        [c, 4],
        [b, 5],
        [a, 6],
      ];
      const deliveries = (await buffer.append(order.map(([sessionId, n]) => ({ sessionId, tail: tail(n) })))) as Delivery[];
      expect(deliveries.map((d) => [d.sessionId, d.id])).toEqual([
        [a, 1],
        [b, 1],
        [a, 2],
        [c, 1],
        [b, 2],
        [a, 3],
      ]);
      expect(deliveries.map((d) => d.frame)).toEqual(order.map(([, n], i) => FRAME_HEAD + deliveries[i].id + tail(n)));
      expect((await buffer.readAfter(a, 0)).events.map((e) => e.frame)).toEqual([1, 3, 6].map((n, i) => FRAME_HEAD + (i + 1) + tail(n)));
      expect((await buffer.readAfter(b, 0)).events.map((e) => e.frame)).toEqual([2, 5].map((n, i) => FRAME_HEAD + (i + 1) + tail(n)));
      expect((await buffer.readAfter(c, 1)).events).toEqual([]);
    });

    it('numbers appends in the order they are called, each made before the previous one resolved', async () => {
      const s = await opened();
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => append(s, 2 * i, 2 * i + 1)));
      expect(batches.map((batch) => batch.map((d) => d.id))).toEqual(Array.from({ length: 20 }, (_, i) => [2 * i + 1, 2 * i + 2]));
      expect(batches.flat().map((d) => d.frame)).toEqual(Array.from({ length: 40 }, (_, n) => FRAME_HEAD + (n + 1) + tail(n)));
    });

    it('keeps ids without holes under concurrent appends', async () => {
      const s = await opened();
      const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => append(s, 2 * i, 2 * i + 1)));
      const ids = batches.flat().map((d) => d.id);
      expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      for (const batch of batches) expect(batch[1].id).toBe(batch[0].id + 1);
    });

    it('remembers the newest id written to a socket, never going back', async () => {
      const s = await opened();
      expect(await buffer.lastWritten(s)).toBe(0);
      await append(s, 1, 2, 3);
      expect(await buffer.lastWritten(s)).toBe(0);
      await buffer.markWritten(s, 2);
      expect(await buffer.lastWritten(s)).toBe(2);
      await buffer.markWritten(s, 1);
      expect(await buffer.lastWritten(s)).toBe(2);
      await buffer.markWritten(s, 3);
      expect(await buffer.lastWritten(s)).toBe(3);
    });

    it('does not create a buffer by marking or touching', async () => {
      const s = sid();
      await buffer.markWritten(s, 5);
      await buffer.touch(s);
      expect(await buffer.lastWritten(s)).toBe(0);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect(await append(s, 1)).toEqual([undefined]);
    });

    it('makes a lost buffer anew from id 1 when the client saw nothing yet', async () => {
      const s = sid();
      await buffer.continueFrom(s, 0);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect((await append(s, 1))[0]).toEqual({ sessionId: s, id: 1, frame: FRAME_HEAD + 1 + tail(1) });
    });

    it('continues ids after a lost buffer from the id the client last saw', async () => {
      const s = sid();
      await buffer.continueFrom(s, 7);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 7 });
      expect((await append(s, 1))[0]).toEqual({ sessionId: s, id: 8, frame: FRAME_HEAD + 8 + tail(1) });
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [{ id: 8, frame: FRAME_HEAD + 8 + tail(1) }], oldestId: 8, newestId: 8 });
    });

    it('skips ahead and forgets older frames when asked to continue past its newest id', async () => {
      const s = await opened();
      await append(s, 1, 2, 3);
      await buffer.continueFrom(s, 9);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 9 });
      expect((await append(s, 4))[0].id).toBe(10);
    });

    it('never moves ids back when asked to continue from an id it has passed', async () => {
      const s = await opened();
      await append(s, 1, 2, 3);
      await buffer.continueFrom(s, 2);
      await buffer.continueFrom(s, 3);
      const slice = await buffer.readAfter(s, 0);
      expect([slice.events.map((e) => e.id), slice.oldestId, slice.newestId]).toEqual([[1, 2, 3], 1, 3]);
      expect((await append(s, 4))[0].id).toBe(4);
    });

    it('drops a session: nothing is buffered for it after, and a new opening starts over', async () => {
      const s = await opened();
      const kept = await opened();
      await append(s, 1, 2);
      await append(kept, 1);
      await buffer.markWritten(s, 2);
      await buffer.drop(s);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
      expect(await buffer.lastWritten(s)).toBe(0);
      expect(await append(s, 9)).toEqual([undefined]);
      await buffer.open(s);
      expect((await append(s, 9))[0].id).toBe(1);
      expect((await buffer.readAfter(kept, 0)).newestId).toBe(1);
      await buffer.drop(sid());
    });
  });

  describe('with a TTL of 1 s', () => {
    beforeEach(async () => {
      harness = await make({ EVENT_BUFFER_SIZE: String(CAPACITY), SESSION_IDLE_TTL_S: '1' });
      buffer = harness.buffer;
    });
    afterEach(async () => {
      await harness.close();
    });

    it('forgets an idle session: nothing is buffered for it after, and a new opening starts over', async () => {
      const s = await opened();
      await append(s, 1, 2);
      await buffer.markWritten(s, 1);
      await eventually(async () => expect((await buffer.readAfter(s, 0)).newestId).toBe(0));
      expect(await buffer.lastWritten(s)).toBe(0);
      expect(await append(s, 3)).toEqual([undefined]);
      await buffer.open(s);
      expect((await append(s, 3))[0].id).toBe(1);
    });

    it('forgets the events appended after a continue past its newest id, with the ids', async () => {
      const s = await opened();
      await append(s, 1);
      // The frames are dropped here and made anew by the next append, which must give them an end too.
      await buffer.continueFrom(s, 10);
      expect((await append(s, 11))[0].id).toBe(11);
      await eventually(async () => expect(await buffer.readAfter(s, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 }));
      // Nothing of the old buffer is left to be read with the new one.
      await buffer.open(s);
      expect((await append(s, 12))[0].id).toBe(1);
      expect(await buffer.readAfter(s, 0)).toEqual({ events: [{ id: 1, frame: `${FRAME_HEAD}1${tail(12)}` }], oldestId: 1, newestId: 1 });
    });

    it('keeps a buffer alive while it is touched; appends do not extend it', async () => {
      // Made in this order, so `appended` expires no later than `idle`.
      const [touched, appended, idle] = [await opened(), await opened(), await opened()];
      await append(touched, 1);
      await append(appended, 1);
      await append(idle, 1);
      // Mid-life: were appends to extend it, `appended` would outlive `idle` by this much.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await append(appended, 2);
      await eventually(async () => {
        await buffer.touch(touched);
        expect((await buffer.readAfter(idle, 0)).newestId).toBe(0);
      });
      expect((await buffer.readAfter(touched, 0)).newestId).toBe(1);
      expect((await buffer.readAfter(appended, 0)).newestId).toBe(0);
    });
  });
});
