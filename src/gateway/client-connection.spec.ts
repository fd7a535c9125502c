import { Metrics } from '../metrics/metrics';
import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { GatewayConfig, WebSocketConfig } from '../config/gateway-config';
import { FRAME_HEAD } from '../events/envelope';
import { BufferSlice, Delivery } from '../events/event-buffer';
import { MemoryEventBuffer } from '../events/memory-event-buffer';
import { SubscriptionService } from '../events/subscription.service';
import { Session } from '../session/session';
import { ClientConnection, ConnectionContext, isRecovered } from './client-connection';

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
  readonly _socket = { write: (frame: Buffer) => this.send(textOf(frame)) };
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
    this.readyState = this.CLOSING;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
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
};

const WS_CONFIG: WebSocketConfig = {
  heartbeatIntervalMs: 25_000,
  maxPayloadBytes: 65_536,
  maxBufferedBytes: 1024,
  allowedOrigins: [],
  eventBufferSize: 100,
};

/** Lets every pending promise callback (the buffer is in memory) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ClientConnection', () => {
  let buffer: MemoryEventBuffer;
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

  beforeEach(() => {
    buffer = new MemoryEventBuffer({ ws: { eventBufferSize: 100 }, session: { idleTtlS: 60 } } as GatewayConfig);
    socket = new FakeSocket();
    log = { warn: jest.fn() };
    answer = jest.fn(async (_session: Session, _callId: string, _answer: 'ready' | 'decline') => false);
    const subscriptions = { current: async () => ({ subscribeAll: true, events: ['CallHeld'] }) } as unknown as SubscriptionService;
    const context: ConnectionContext = { answer, buffer, metrics: new Metrics(), subscriptions, config: WS_CONFIG, log: log as unknown as Logger };
    connection = new ClientConnection(socket as unknown as WebSocket, SESSION, context);
  });
  afterEach(() => buffer.onModuleDestroy());

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

  describe('deliver', () => {
    beforeEach(async () => {
      await connection.open(0);
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

    it('fills a hole (a lost bus message) from the buffer before writing newer events', async () => {
      const [one, , three, four] = await append(4);
      connection.deliver(one);
      connection.deliver(three);
      connection.deliver(four);
      await settle();
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
      expect(connection.unpersistedWrittenId()).toBeUndefined();
      connection.deliver(one);
      connection.deliver(two);
      expect(connection.unpersistedWrittenId()).toBe(2);
      expect(connection.unpersistedWrittenId()).toBeUndefined();
    });

    it('does not count an event handed to a socket the client is closing as written', async () => {
      const [one] = await append(1);
      socket.readyState = socket.CLOSING;
      connection.deliver(one);
      expect(socket.sent).toEqual([]);
      expect(connection.unpersistedWrittenId()).toBeUndefined();
    });

    it('closes a slow consumer with 4008 and writes nothing more', async () => {
      const deliveries = await append(3);
      socket.bufferedAmount = WS_CONFIG.maxBufferedBytes + 1;
      for (const delivery of deliveries) connection.deliver(delivery);
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
      expect(socket.sent).toEqual([]);
      expect(connection.isOpen).toBe(false);
    });

    it('stops a catch-up when the socket is closed as too slow half-way (no endless loop)', async () => {
      const [, , three, four, five] = await append(5);
      socket.growth = WS_CONFIG.maxBufferedBytes + 1;
      connection.deliver(five);
      connection.deliver(three);
      connection.deliver(four);
      await settle();
      expect(socket.eventIds()).toEqual([1]);
      expect(socket.closes).toEqual([[4008, 'too slow; reconnect with lastEventId']]);
    });

    it('closes with 1011 when a hole can no longer be filled from the buffer', async () => {
      const [, two] = await append(2);
      await buffer.drop(SESSION.id);
      connection.deliver(two);
      await settle();
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

