import { GatewayConfig } from '../config/gateway-config';
import { FRAME_HEAD } from './envelope';
import { MemoryEventBufferStore } from './memory-event-buffer.store';

const tail = (n: number) => `","n":${n}}`;
const ids = (events: ReadonlyArray<{ id: number } | undefined>) => events.map((e) => e?.id);

describe('MemoryEventBufferStore', () => {
  let buffer: MemoryEventBufferStore;
  /** A buffer with the sessions 'a' and 'b' set up (their buffers opened). */
  const create = async (eventBufferSize: number, idleTtlS = 60) => {
    const created = new MemoryEventBufferStore({ ws: { eventBufferSize }, session: { idleTtlS } } as GatewayConfig);
    await created.open('a');
    await created.open('b');
    return created;
  };
  const appendTo = (sessionId: string, from: number, to: number) =>
    buffer.append(Array.from({ length: to - from + 1 }, (_, i) => ({ sessionId, tail: tail(from + i) })));

  beforeEach(async () => {
    buffer = await create(5);
  });
  afterEach(() => buffer.onModuleDestroy());

  it('numbers each session 1, 2, 3 ... on its own, in the order of the entries', async () => {
    const deliveries = await buffer.append([
      { sessionId: 'a', tail: tail(1) },
      { sessionId: 'b', tail: tail(1) },
      { sessionId: 'a', tail: tail(2) },
    ]);
    expect(deliveries).toEqual([
      { sessionId: 'a', id: 1, frame: `${FRAME_HEAD}1${tail(1)}` },
      { sessionId: 'b', id: 1, frame: `${FRAME_HEAD}1${tail(1)}` },
      { sessionId: 'a', id: 2, frame: `${FRAME_HEAD}2${tail(2)}` },
    ]);
    expect(ids((await appendTo('a', 3, 3)))).toEqual([3]);
  });

  it('reads the slice after an id, with the oldest and newest ids', async () => {
    await appendTo('a', 1, 4);
    expect(await buffer.readAfter('a', 0)).toEqual({
      events: [1, 2, 3, 4].map((id) => ({ id, frame: `${FRAME_HEAD}${id}${tail(id)}` })),
      oldestId: 1,
      newestId: 4,
    });
    expect(await buffer.readAfter('a', 2)).toMatchObject({ oldestId: 1, newestId: 4 });
    expect(ids((await buffer.readAfter('a', 2)).events)).toEqual([3, 4]);
    expect(await buffer.readAfter('a', 4)).toEqual({ events: [], oldestId: 1, newestId: 4 });
    expect(await buffer.readAfter('a', 9)).toEqual({ events: [], oldestId: 1, newestId: 4 });
  });

  it('answers an unknown session with an empty slice', async () => {
    expect(await buffer.readAfter('nobody', 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
    expect(await buffer.lastWritten('nobody')).toBe(0);
  });

  it('keeps the newest EVENT_BUFFER_SIZE events when the ring wraps around', async () => {
    await appendTo('a', 1, 12);
    const all = await buffer.readAfter('a', 0);
    expect(all.oldestId).toBe(8);
    expect(all.newestId).toBe(12);
    expect(all.events).toEqual([8, 9, 10, 11, 12].map((id) => ({ id, frame: `${FRAME_HEAD}${id}${tail(id)}` })));
    expect(ids((await buffer.readAfter('a', 3)).events)).toEqual([8, 9, 10, 11, 12]);
    expect(ids((await buffer.readAfter('a', 9)).events)).toEqual([10, 11, 12]);
    await appendTo('a', 13, 13);
    expect(await buffer.readAfter('a', 11)).toMatchObject({ oldestId: 9, newestId: 13 });
    expect(ids((await buffer.readAfter('a', 11)).events)).toEqual([12, 13]);
  });

  it('wraps at exactly the capacity', async () => {
    await appendTo('a', 1, 5);
    expect(await buffer.readAfter('a', 0)).toMatchObject({ oldestId: 1, newestId: 5 });
    await appendTo('a', 6, 6);
    const slice = await buffer.readAfter('a', 0);
    expect(slice).toMatchObject({ oldestId: 2, newestId: 6 });
    expect(slice.events.map((e) => e.frame)).toEqual([2, 3, 4, 5, 6].map((id) => `${FRAME_HEAD}${id}${tail(id)}`));
  });

  it('keeps a single event with a buffer of one', async () => {
    buffer.onModuleDestroy();
    buffer = await create(1);
    await appendTo('a', 1, 3);
    expect(await buffer.readAfter('a', 0)).toEqual({ events: [{ id: 3, frame: `${FRAME_HEAD}3${tail(3)}` }], oldestId: 3, newestId: 3 });
  });

  it('records the newest id written, never going back', async () => {
    await appendTo('a', 1, 3);
    expect(await buffer.lastWritten('a')).toBe(0);
    await buffer.markWritten('a', 2);
    expect(await buffer.lastWritten('a')).toBe(2);
    await buffer.markWritten('a', 1);
    expect(await buffer.lastWritten('a')).toBe(2);
    await buffer.markWritten('nobody', 5);
    expect(await buffer.lastWritten('nobody')).toBe(0);
  });

  it('drops a session’s events, buffers nothing for it after, and restarts its ids when opened again', async () => {
    await appendTo('a', 1, 3);
    await appendTo('b', 1, 1);
    await buffer.drop('a');
    expect(await buffer.readAfter('a', 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
    expect((await buffer.readAfter('b', 0)).newestId).toBe(1);
    expect(ids(await appendTo('a', 1, 1))).toEqual([undefined]);
    await buffer.open('a');
    expect(ids(await appendTo('a', 1, 1))).toEqual([1]);
  });

  describe('expiry', () => {
    beforeEach(async () => {
      jest.useFakeTimers({ now: 1_000_000 });
      buffer.onModuleDestroy();
      buffer = await create(5, 10);
    });
    afterEach(() => jest.useRealTimers());

    it('frees a buffer SESSION_IDLE_TTL_S after its opening, however often it was appended to since', async () => {
      await appendTo('a', 1, 2);
      jest.setSystemTime(1_000_000 + 9_000);
      await appendTo('a', 3, 3);
      expect((await buffer.readAfter('a', 0)).newestId).toBe(3);
      jest.setSystemTime(1_000_000 + 10_001);
      expect(await buffer.readAfter('a', 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
    });

    it('keeps a touched buffer alive', async () => {
      await appendTo('a', 1, 1);
      jest.setSystemTime(1_000_000 + 9_000);
      await buffer.touch('a');
      jest.setSystemTime(1_000_000 + 18_000);
      expect((await buffer.readAfter('a', 0)).newestId).toBe(1);
      await buffer.touch('nobody');
      expect(await buffer.readAfter('nobody', 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
    });
  });
});
