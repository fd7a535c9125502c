import { StoreUnavailableError } from '../common/store-unavailable';
import { Metrics } from '../infra/metrics/metrics';
import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { GatewayConfig, WebSocketConfig } from '../config/gateway-config';
import { FRAME_HEAD } from '../events/envelope';
import { BufferSlice, Delivery } from '../events/event-buffer.store';
import { MemoryEventBufferStore } from '../events/memory-event-buffer.store';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { Session } from '../session/session';
import { ClientConnection, ConnectionContext, HOLE_WAIT_MS, isRecovered, REPLAY_PAGE_SIZE } from './client-connection';

const slice = (oldestId: number, newestId: number): BufferSlice => ({
  oldestId,
  newestId,
  events: oldestId ? Array.from({ length: newestId - oldestId + 1 }, (_, i) => ({ id: oldestId + i, frame: '' })) : [],
});

describe('isRecovered', () => {
  it.each([
    ['an empty buffer and nothing asked', 0, slice(0, 0), true],
    ['the newest id', 7, slice(3, 7), true],
    ['an id whose successor is the oldest kept', 2, slice(3, 7), true],
    ['an id inside the buffer', 4, slice(3, 7), true],
    ['an id whose successor left the buffer', 1, slice(3, 7), false],
    ['0 when events 1 and 2 left the buffer', 0, slice(3, 7), false],
    ['0 with everything kept', 0, slice(1, 7), true],
    ['an id the session never reached', 9, slice(3, 7), false],
    ['an id when the buffer is gone', 4, slice(0, 0), false],
  ])('%s', (_what, after, bufferSlice, expected) => {
    expect(isRecovered(after, bufferSlice)).toBe(expected);
  });
});

/** The TCP socket under a FakeSocket: its high-water mark is the window of a replay here (WS_CONFIG's 1024 bytes). */
class FakeTcpSocket extends EventEmitter {
  readonly writableHighWaterMark = 1024;
  destroyed = false;
  constructor(private readonly ws: FakeSocket) {
    super();
  }
  get writableNeedDrain(): boolean {
    return this.ws.bufferedAmount >= this.writableHighWaterMark;
  }
  write(frame: Buffer): void {
    this.ws.send(textOf(frame));
  }
}

/** Just enough of a `ws` server socket: records what is sent and how it is closed. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readyState = 1;
  bufferedAmount = 0;
  /** Added to bufferedAmount on every send (a client that does not read). */
  growth = 0;
  readonly sent: string[] = [];
  readonly closes: Array<[number, string]> = [];
  pings = 0;
  terminated = false;

  send(data: string): void {
    this.sent.push(data);
    this.bufferedAmount += this.growth;
  }
  /** The TCP socket under it, where events are written as whole frames (text-frame.ts). */
  readonly _socket = new FakeTcpSocket(this);
  /** The client read everything sent so far. */
  drain(): void {
    this.bufferedAmount = 0;
    this._socket.emit('drain');
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
    this.readyState = this.CLOSING;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
    this._socket.destroyed = true;
    this._socket.emit('close');
  }
  ping(): void {
    this.pings++;
  }

  messages(): any[] {
    return this.sent.map((frame) => JSON.parse(frame));
  }
  eventIds(): number[] {
    return this.messages()
      .filter((m) => m.type === 'event')
      .map((m) => Number(m.id));
  }
}

/** The payload of an unmasked text frame. */
function textOf(frame: Buffer): string {
  const length = frame[1] & 0x7f;
  const header = length < 126 ? 2 : length === 126 ? 4 : 10;
  return frame.subarray(header).toString('utf8');
}

const SESSION: Session = {
  id: 's-1',
  sub: 'alice',
  mode: 'user',
  identity: '+905321110001',
  connectionType: 'WEB',
  holdUpMode: false,
  tokenHash: 'hash',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-02T00:00:00.000Z',
};

const WS_CONFIG: WebSocketConfig = {
  heartbeatIntervalMs: 25_000,
  maxPayloadBytes: 65_536,
  maxBufferedBytes: 1024,
  allowedOrigins: [],
  eventBufferSize: 100,
  messageBurst: 100,
  messagesPerSecond: 20,
};

/** Lets every pending promise callback (the buffer is in memory) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
/** Fake timers for the hole's wait only: the buffer's promises and setImmediate stay real. */
const fakeHoleTimer = () => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
/** Lets a hole's wait (HOLE_WAIT_MS) run out, then the replay it starts. */
const holeWaitOver = async () => {
  await jest.advanceTimersByTimeAsync(HOLE_WAIT_MS);
  await settle();
};

describe('ClientConnection', () => {
  let buffer: MemoryEventBufferStore;
  let socket: FakeSocket;
  let connection: ClientConnection;
  let log: { warn: jest.Mock };
  let answer: jest.Mock<Promise<boolean>, [Session, string, 'ready' | 'decline']>;

  const tail = (seq: number) => `","event":"CallHeld","identity":"+905321110001","timestamp":"2026-01-01T00:00:00.000Z","data":{"seq":${seq}}}`;
  /** Appends events to the session's buffer, as the router does, and returns the deliveries (not yet delivered). */
  const append = async (count: number): Promise<Delivery[]> => {
    const start = (await buffer.readAfter(SESSION.id, 0)).newestId;
    const appended = await buffer.append(Array.from({ length: count }, (_, i) => ({ sessionId: SESSION.id, tail: tail(start + i + 1) })));
    return appended as Delivery[];
  };

  beforeEach(async () => {
    buffer = new MemoryEventBufferStore({ ws: { eventBufferSize: 100 }, session: { idleTtlS: 60 } } as GatewayConfig);
    await buffer.open(SESSION.id);
    socket = new FakeSocket();
    log = { warn: jest.fn() };
    answer = jest.fn(async (_session: Session, _callId: string, _answer: 'ready' | 'decline') => false);
    const subscriptions = { current: async () => ({ subscribeAll: true, events: ['CallHeld'] }) } as unknown as SubscriptionService;
    const context: ConnectionContext = { answer, buffer, metrics: new Metrics(), subscriptions, config: WS_CONFIG, log: log as unknown as Logger };
    connection = new ClientConnection(socket as unknown as WebSocket, SESSION, context);
  });
  afterEach(() => {
    buffer.onModuleDestroy();
    jest.useRealTimers();
  });

  describe('open', () => {
    it('sends the welcome first, then every buffered event after lastEventId', async () => {
      await append(5);
      await connection.open(2);
      const [welcome, ...events] = socket.messages();
      expect(welcome).toEqual({
        type: 'welcome',
        sessionId: 's-1',
        identity: '+905321110001',
        mode: 'user',
        subscription: { subscribeAll: true, events: ['CallHeld'] },
        heartbeatIntervalMs: 25_000,
        lastEventId: '5',
        recovered: true,
        expiresAt: '2026-01-02T00:00:00.000Z',
      });
      expect(events.map((e) => e.id)).toEqual(['3', '4', '5']);
      expect(events[0]).toEqual({
        type: 'event',
        id: '3',
        event: 'CallHeld',
        identity: '+905321110001',
        timestamp: '2026-01-01T00:00:00.000Z',
        data: { seq: 3 },
      });
    });

    it('starts after the last event written when no lastEventId is given', async () => {
      await append(4);
      await buffer.markWritten(SESSION.id, 3);
      await connection.open(undefined);
      expect(socket.messages()[0]).toMatchObject({ lastEventId: '4', recovered: true });
      expect(socket.eventIds()).toEqual([4]);
    });

    it('holds live deliveries that arrive during the replay and sends each once, in order', async () => {
      const early = await append(3);
      const opening = connection.open(0);
      // Delivered while the welcome is being prepared: some already in the replayed slice, some newer.
      const late = await append(2);
      for (const delivery of [...late, ...early]) connection.deliver(delivery);
      await opening;
      await settle();
      expect(socket.eventIds()).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('paced replay', () => {
    /** Each write leaves 400 unsent bytes: the 1024-byte window holds the welcome and two events. */
    beforeEach(() => {
      socket.growth = 400;
    });

    it('writes a window, waits for the socket to drain, and goes on until everything is written, without a 4008', async () => {
      await append(10);
      await connection.open(0);
      await settle();
      expect(socket.eventIds()).toEqual([1, 2]);
      for (const upTo of [5, 8, 10]) {
        socket.drain();
        await settle();
        expect(socket.eventIds()).toEqual(Array.from({ length: upTo }, (_, i) => i + 1));
      }
      expect(socket.closes).toEqual([]);
    });

    it('reads the buffer a page at a time, and keeps no copy of the deliveries that arrive meanwhile', async () => {
      await append(REPLAY_PAGE_SIZE + 20);
      const reads = jest.spyOn(buffer, 'readAfter');
      await connection.open(0);
      await settle();
      const live = await append(5);
      for (const delivery of live.reverse()) connection.deliver(delivery);
      while (socket.eventIds().length < REPLAY_PAGE_SIZE + 25) {
        socket.drain();
        await settle();
      }
      expect(socket.eventIds()).toEqual(Array.from({ length: REPLAY_PAGE_SIZE + 25 }, (_, i) => i + 1));
      const replayReads = reads.mock.calls.filter(([, , limit]) => limit !== undefined);
      expect(replayReads.map(([, after, limit]) => [after, limit])).toEqual([
        [0, REPLAY_PAGE_SIZE],
        [REPLAY_PAGE_SIZE, REPLAY_PAGE_SIZE],
      ]);
      expect((connection as unknown as Record<string, unknown>).pending).toBeUndefined();
    });

    it('writes live deliveries that arrive during a replay after it, in order, and live ones at once after it', async () => {
      await append(4);
      await connection.open(0);
      await settle();
      const [five, six, seven] = await append(3);
      connection.deliver(seven);
      connection.deliver(five);
      connection.deliver(six);
      expect(socket.eventIds()).toEqual([1, 2]);
      while (socket.eventIds().length < 7) {
        socket.drain();
        await settle();
      }
      socket.drain();
      await settle();
      const [eight] = await append(1);
      connection.deliver(eight);
      expect(socket.eventIds()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(socket.closes).toEqual([]);
    });

    it('stops when the socket is cut while it waits for the client (the heartbeat), and writes nothing more', async () => {
      await append(10);
      await connection.open(0);
      await settle();
      socket.terminate();
      await settle();
      expect(socket.eventIds()).toEqual([1, 2]);
      expect(socket.closes).toEqual([]);
      expect(log.warn).not.toHaveBeenCalled();
    });

    it('closes with 4008 when the buffer dropped events before the replay reached them', async () => {
      await append(REPLAY_PAGE_SIZE + 10);
      await connection.open(0);
      await settle();
      // 100 more push everything after the first page out of a buffer of 100.
      await append(100);
      while (!socket.closes.length && socket.eventIds().length <= REPLAY_PAGE_SIZE) {
        socket.drain();
        await settle();
      }
      expect(socket.eventIds()).toEqual(Array.from({ length: REPLAY_PAGE_SIZE }, (_, i) => i + 1));
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
    });

    it('lets a pong through on top of a paused replay, up to the window again', async () => {
      await append(10);
      await connection.open(0);
      await settle();
      socket.growth = 0;
      socket.emit('message', Buffer.from('{"type":"ping"}'), false);
      expect(socket.messages().at(-1)).toEqual({ type: 'pong' });
      socket.bufferedAmount = 2 * 1024 + 1;
      socket.emit('message', Buffer.from('{"type":"ping"}'), false);
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
      expect(socket.messages().filter((m) => m.type === 'pong')).toHaveLength(1);
    });
  });

  describe('deliver', () => {
    beforeEach(async () => {
      await connection.open(0);
      await settle();
      socket.sent.length = 0;
    });

    it('writes the next id at once, reusing the frame', async () => {
      const [first] = await append(1);
      connection.deliver(first);
      expect(socket.sent).toEqual([first.frame]);
      expect(first.frame.startsWith(`${FRAME_HEAD}1"`)).toBe(true);
    });

    it('puts out-of-order deliveries back in order', async () => {
      const [one, two, three] = await append(3);
      connection.deliver(three);
      connection.deliver(one);
      connection.deliver(two);
      await settle();
      expect(socket.eventIds()).toEqual([1, 2, 3]);
    });

    it('waits a moment for a delivery another one overtook, and writes both in order without reading the buffer', async () => {
      fakeHoleTimer();
      const [one, two, three] = await append(3);
      const reads = jest.spyOn(buffer, 'readAfter');
      connection.deliver(one);
      connection.deliver(three);
      await settle();
      expect(socket.eventIds()).toEqual([1]);
      connection.deliver(two);
      expect(socket.eventIds()).toEqual([1, 2, 3]);
      await holeWaitOver();
      expect(socket.eventIds()).toEqual([1, 2, 3]);
      expect(reads).not.toHaveBeenCalled();
    });

    it('fills a hole (a lost bus message) from the buffer before writing newer events, once the wait is over', async () => {
      fakeHoleTimer();
      const [one, , three, four] = await append(4);
      connection.deliver(one);
      connection.deliver(three);
      connection.deliver(four);
      await settle();
      expect(socket.eventIds()).toEqual([1]);
      await holeWaitOver();
      expect(socket.eventIds()).toEqual([1, 2, 3, 4]);
    });

    it('drops duplicates', async () => {
      const [one, two] = await append(2);
      connection.deliver(one);
      connection.deliver(one);
      connection.deliver(two);
      connection.deliver(one);
      connection.deliver(two);
      await settle();
      expect(socket.eventIds()).toEqual([1, 2]);
    });

    it('remembers the newest id written, once, for resume without lastEventId', async () => {
      const [one, two] = await append(2);
      expect(connection.takeUnrecordedWrittenId()).toBeUndefined();
      connection.deliver(one);
      connection.deliver(two);
      expect(connection.takeUnrecordedWrittenId()).toBe(2);
      expect(connection.takeUnrecordedWrittenId()).toBeUndefined();
    });

    it('does not count an event handed to a socket the client is closing as written', async () => {
      const [one] = await append(1);
      socket.readyState = socket.CLOSING;
      connection.deliver(one);
      expect(socket.sent).toEqual([]);
      expect(connection.takeUnrecordedWrittenId()).toBeUndefined();
    });

    it('closes a slow consumer with 4008 and writes nothing more', async () => {
      const deliveries = await append(3);
      socket.bufferedAmount = WS_CONFIG.maxBufferedBytes + 1;
      for (const delivery of deliveries) connection.deliver(delivery);
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
      expect(socket.sent).toEqual([]);
      expect(connection.isOpen).toBe(false);
    });

    it('fills a hole at the client’s pace, and closes a client that stopped reading live events with 4008', async () => {
      fakeHoleTimer();
      const [one, , three] = await append(3);
      connection.deliver(one);
      socket.bufferedAmount = WS_CONFIG.maxBufferedBytes;
      connection.deliver(three);
      await holeWaitOver();
      expect(socket.eventIds()).toEqual([1]);
      socket.drain();
      await settle();
      expect(socket.eventIds()).toEqual([1, 2, 3]);
      socket.bufferedAmount = WS_CONFIG.maxBufferedBytes + 1;
      const [four] = await append(1);
      connection.deliver(four);
      expect(socket.eventIds()).toEqual([1, 2, 3]);
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
    });

    it('closes with 1011 when a hole can no longer be filled from the buffer', async () => {
      fakeHoleTimer();
      const [, two] = await append(2);
      await buffer.drop(SESSION.id);
      connection.deliver(two);
      await holeWaitOver();
      expect(socket.sent).toEqual([]);
      expect(socket.closes).toEqual([[1011, 'replay failed; reconnect with lastEventId']]);
      expect(log.warn).toHaveBeenCalledWith('session s-1: replay failed: the events after 0 are no longer buffered');
    });

    it('ignores deliveries once closed', async () => {
      const [one] = await append(1);
      connection.close(4002, 'replaced by a newer socket');
      connection.deliver(one);
      expect(socket.sent).toEqual([]);
      expect(socket.closes).toEqual([[4002, 'replaced by a newer socket']]);
    });
  });

  describe('catchUp', () => {
    beforeEach(async () => {
      await connection.open(0);
      await settle();
    });

    it('writes what the buffer holds after the last id written, as when deliveries were lost on the bus', async () => {
      const [one] = await append(3);
      connection.deliver(one);
      connection.catchUp();
      await settle();
      expect(socket.eventIds()).toEqual([1, 2, 3]);
      expect(socket.closes).toEqual([]);
    });

    it('moves the ids of a buffer that lost events it had sent on past them, so that new events are not taken for duplicates', async () => {
      for (const delivery of await append(3)) connection.deliver(delivery);
      // A replica promoted before it had the last two appends: the buffer's newest id is 1 again.
      await buffer.drop(SESSION.id);
      await buffer.open(SESSION.id);
      await append(1);
      connection.catchUp();
      await settle();
      expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('the store lost events 2-3 after they were sent; ids go on from 4'));

      const [next] = await append(1);
      expect(next.id).toBe(4);
      connection.deliver(next);
      expect(socket.eventIds()).toEqual([1, 2, 3, 4]);
    });

    it('leaves the socket open when the store cannot be read yet', async () => {
      jest.spyOn(buffer, 'readAfter').mockRejectedValueOnce(new StoreUnavailableError());
      connection.catchUp();
      await settle();
      expect(socket.closes).toEqual([]);
    });
  });

  describe('client messages', () => {
    const receive = (text: string, isBinary = false) => socket.emit('message', Buffer.from(text), isBinary);

    it('answers ping with pong and garbage with an error, closing with 1008 after 10 errors', () => {
      receive('{"type":"ping"}');
      for (let i = 0; i < 10; i++) receive('nope');
      expect(socket.closes).toEqual([]);
      receive('nope');
      expect(socket.messages()).toEqual([{ type: 'pong' }, ...Array(10).fill({ type: 'error', message: 'messages must be JSON objects' })]);
      expect(socket.closes).toEqual([[1008, 'too many invalid messages']]);
    });

    it('forgets errors older than a minute', () => {
      const now = jest.spyOn(Date, 'now');
      try {
        now.mockReturnValue(1_000_000);
        for (let i = 0; i < 10; i++) receive('nope');
        now.mockReturnValue(1_000_000 + 60_000);
        receive('nope');
        expect(socket.closes).toEqual([]);
      } finally {
        now.mockRestore();
      }
    });

    it('hands ready and decline to the held-up call, answering an error when no call waits', async () => {
      answer.mockResolvedValueOnce(true).mockResolvedValueOnce(false);
      receive('{"type":"ready","callId":"c-1"}');
      receive('{"type":"decline","callId":"c-2"}');
      await settle();
      expect(answer.mock.calls).toEqual([
        [SESSION, 'c-1', 'ready'],
        [SESSION, 'c-2', 'decline'],
      ]);
      expect(socket.messages()).toEqual([{ type: 'error', message: 'call c-2 is not waiting for an answer from this session' }]);
    });

    it('asks for a ready to be sent again when it could not be recorded', async () => {
      answer.mockRejectedValueOnce(new Error('store down'));
      receive('{"type":"ready","callId":"c-1"}');
      await settle();
      expect(socket.messages()).toEqual([{ type: 'error', message: 'the ready for call c-1 could not be recorded; send it again' }]);
      expect(socket.closes).toEqual([]);
    });

    it('counts answers for calls not waiting as invalid: 5,000 of them cost 10 store reads and a 1008', async () => {
      for (let i = 0; i < 5_000; i++) receive(`{"type":"ready","callId":"c-${i}"}`);
      await settle();
      expect(answer).toHaveBeenCalledTimes(10);
      expect(socket.closes).toEqual([[1008, 'too many invalid messages']]);
      // The answers came back after the close: nothing more is written.
      expect(socket.sent).toEqual([]);
    });

    it('does not count an answer for a call that waits, nor one the store could not record', async () => {
      answer.mockResolvedValue(true);
      for (let i = 0; i < 20; i++) {
        receive(`{"type":"ready","callId":"c-${i}"}`);
        await settle();
      }
      answer.mockRejectedValue(new Error('store down'));
      for (let i = 0; i < 20; i++) {
        receive(`{"type":"decline","callId":"d-${i}"}`);
        await settle();
      }
      expect(answer).toHaveBeenCalledTimes(40);
      expect(socket.closes).toEqual([]);
    });

    it('closes with 1008 past the message rate: a burst, then a steady rate', () => {
      const now = jest.spyOn(Date, 'now');
      try {
        now.mockReturnValue(5_000_000);
        for (let i = 0; i < WS_CONFIG.messageBurst; i++) receive('{"type":"ping"}');
        // A second later, the bucket holds messagesPerSecond more.
        now.mockReturnValue(5_001_000);
        for (let i = 0; i < WS_CONFIG.messagesPerSecond; i++) receive('{"type":"ping"}');
        expect(socket.closes).toEqual([]);
        receive('{"type":"ping"}');
        expect(socket.closes).toEqual([[1008, 'too many messages; slow down']]);
        receive('{"type":"ping"}');
        expect(socket.messages()).toHaveLength(WS_CONFIG.messageBurst + WS_CONFIG.messagesPerSecond);
      } finally {
        now.mockRestore();
      }
    });

    it('closes a client that sends pings but does not read the pongs with 4008, and queues nothing more', async () => {
      await connection.open(0);
      await settle();
      socket.sent.length = 0;
      socket.growth = 100;
      for (let i = 0; i < 50; i++) receive('{"type":"ping"}');
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
      // Pongs were written while at most WS_MAX_BUFFERED_BYTES were unsent.
      expect(socket.messages()).toHaveLength(Math.floor(WS_CONFIG.maxBufferedBytes / 100) + 1);
      expect(socket.bufferedAmount).toBeLessThanOrEqual(WS_CONFIG.maxBufferedBytes + 100);
    });

    it('counts a close under its code when the gateway uses it, else as other', async () => {
      const metrics = (connection as unknown as { context: ConnectionContext }).context.metrics;
      socket.emit('close', 4008);
      socket.emit('close', 1006);
      socket.emit('close', 4999);
      socket.emit('close', 3000);
      const counted = (await metrics.socketCloses.get()).values.map((v) => [v.labels.code, v.value]);
      expect(counted).toEqual([
        ['4008', 1],
        ['1006', 1],
        ['other', 2],
      ]);
    });

    it('closes with 1003 on a binary frame', () => {
      receive('{"type":"ping"}', true);
      expect(socket.closes).toEqual([[1003, 'binary frames are not supported']]);
      expect(socket.sent).toEqual([]);
    });
  });

  describe('heartbeat', () => {
    it('is alive until a ping goes unanswered', () => {
      expect(connection.alive).toBe(true);
      connection.ping();
      expect(socket.pings).toBe(1);
      expect(connection.alive).toBe(false);
      socket.emit('pong');
      expect(connection.alive).toBe(true);
    });
  });
});

