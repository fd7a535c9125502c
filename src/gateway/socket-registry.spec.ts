import { ClusterEvents } from '../cluster/cluster-events';
import { MemoryInstances } from '../cluster/memory-instances';
import { GatewayConfig } from '../config/gateway-config';
import { EventBufferStore } from '../events/event-buffer.store';
import { DeliveryBus } from '../events/delivery-bus';
import { MemoryEventBufferStore } from '../events/memory-event-buffer.store';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { Metrics } from '../infra/metrics/metrics';
import { PresenceStore } from '../session/presence.store';
import { SessionService } from '../session/session.service';
import { ClientConnection } from './client-connection';
import { SocketRegistry } from './socket-registry';

const INTERVAL_MS = 20_000;
/** The registry beats in 20 ticks of the interval. */
const TICK_MS = INTERVAL_MS / 20;

/** What the heartbeat uses of a socket, counting its pings. */
class FakeSocket {
  readonly id: string;
  readonly session: { id: string; sub: string; identity: string; expiresAt: string };
  alive = true;
  pings: number[] = [];
  closes: Array<[number, string, number]> = [];
  isOpen = true;
  sessionEnded = false;
  storeEpoch?: string = 'epoch-1';
  subscription = undefined;
  welcomed = true;
  refreshedAt = 0;
  constructor(n: number) {
    this.id = `connection-${n}`;
    this.session = { id: `session-${n}`, sub: `user-${n}`, identity: `+90530000${n}`, expiresAt: '2999-01-01T00:00:00.000Z' };
  }
  terminated = false;
  /** A client answers a ping with a pong: `alive` again, at the next turn. */
  answersPings = false;
  ping(): void {
    this.pings.push(Date.now());
    if (!this.answersPings) return;
    this.alive = false;
    queueMicrotask(() => (this.alive = true));
  }
  onClose(_listener: (connection: ClientConnection) => void): void {}
  terminate(): void {
    this.terminated = true;
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason, Date.now()]);
    this.isOpen = false;
  }
  takeUnrecordedWrittenId(): undefined {
    return undefined;
  }
}

/** A registry whose stores answer at once (or the store epoch as `epoch` answers), with `count` sockets attached. */
async function registryWith(
  count: number,
  epoch: () => Promise<string> = async () => 'epoch-1',
): Promise<{ registry: SocketRegistry; sockets: FakeSocket[]; epochReads: () => number }> {
  let epochReads = 0;
  const sessions = {
    epoch: async () => {
      epochReads++;
      return epoch();
    },
    keepAlive: async () => true,
  } as unknown as SessionService;
  const registry = new SocketRegistry(
    { ws: { heartbeatIntervalMs: INTERVAL_MS }, session: { recheckIntervalS: 300 } } as GatewayConfig,
    { onDeliveries: () => undefined, onMissed: () => undefined } as unknown as DeliveryBus,
    { listen: async () => undefined, publish: async () => undefined, onResync: () => undefined } as unknown as ClusterEvents,
    sessions,
    { touch: async () => undefined, markWritten: async () => undefined } as unknown as EventBufferStore,
    { connected: async () => undefined } as unknown as PresenceStore,
    {} as SubscriptionService,
    new MemoryInstances(),
    { socketsOpen: { set: () => undefined } } as unknown as Metrics,
  );
  await registry.onModuleInit();
  const sockets = Array.from({ length: count }, (_, n) => new FakeSocket(n));
  for (const socket of sockets) await registry.attach(socket as unknown as ClientConnection);
  return { registry, sockets, epochReads: () => epochReads };
}

/** Pings per tick over `ticks` ticks, from the next one on. */
async function pingsPerTick(sockets: FakeSocket[], ticks: number): Promise<number[]> {
  const counts: number[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    const before = sockets.reduce((n, socket) => n + socket.pings.length, 0);
    await jest.advanceTimersByTimeAsync(TICK_MS);
    counts.push(sockets.reduce((n, socket) => n + socket.pings.length, 0) - before);
  }
  return counts;
}

describe('SocketRegistry heartbeat', () => {
  let registry: SocketRegistry | undefined;

  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => {
    registry?.onModuleDestroy();
    jest.useRealTimers();
  });

  it('spreads a pass over its interval, 500 sockets a tick, and pings each socket once per interval', async () => {
    const world = await registryWith(1_800);
    registry = world.registry;
    const counts = await pingsPerTick(world.sockets, 3 * 20);

    expect(Math.max(...counts)).toBe(500);
    // A pass of 1,800 sockets takes four ticks (500, 500, 500, 300), then waits for the interval.
    expect(counts.filter((n) => n > 0)).toEqual([500, 500, 500, 300, 500, 500, 500, 300, 500, 500, 500, 300]);
    for (const socket of world.sockets) {
      expect(socket.pings).toHaveLength(3);
      expect(socket.pings[1] - socket.pings[0]).toBe(INTERVAL_MS);
      expect(socket.pings[2] - socket.pings[1]).toBe(INTERVAL_MS);
    }
  });

  it('takes a larger share a tick when 500 would not finish the pass within the interval', async () => {
    const world = await registryWith(19 * 600);
    registry = world.registry;
    const counts = await pingsPerTick(world.sockets, 20);

    // ceil(11,400 / 19) = 600 a tick: the pass ends within the interval, before the next one is due.
    expect(counts.filter((n) => n > 0)).toEqual(Array(19).fill(600));
    for (const socket of world.sockets) expect(socket.pings).toHaveLength(1);
  });

  it('beats a small instance in one tick, reading the store epoch once for all its sockets', async () => {
    const world = await registryWith(30);
    registry = world.registry;
    const readsBefore = world.epochReads();
    const counts = await pingsPerTick(world.sockets, 20);

    expect(counts.filter((n) => n > 0)).toEqual([30]);
    expect(world.epochReads() - readsBefore).toBe(1);
  });

  it('pings on time while the store answers late, and all at once, and ends no socket that answers its pings', async () => {
    // Once the sockets are attached, the store answers nothing for three intervals, then everything at once (a failover ending).
    let answer!: () => void;
    let late: Promise<void> | undefined;
    const world = await registryWith(3, async () => {
      await late;
      return 'epoch-1';
    });
    late = new Promise<void>((resolve) => (answer = resolve));
    registry = world.registry;
    for (const socket of world.sockets) socket.answersPings = true;
    await pingsPerTick(world.sockets, 3 * 20);
    answer();
    await jest.advanceTimersByTimeAsync(TICK_MS);

    for (const socket of world.sockets) {
      expect(socket.terminated).toBe(false);
      expect(socket.pings.slice(1).map((at, i) => at - socket.pings[i])).toEqual([INTERVAL_MS, INTERVAL_MS, INTERVAL_MS]);
    }
  });

  it('ends a socket that did not answer the ping of the pass before', async () => {
    const world = await registryWith(2);
    registry = world.registry;
    world.sockets[0].answersPings = true;
    world.sockets[1].alive = false;
    await pingsPerTick(world.sockets, 20);

    expect(world.sockets.map((socket) => socket.terminated)).toEqual([false, true]);
  });
});

describe('SocketRegistry and the event buffer of a closed socket', () => {
  const HEARTBEAT_MS = 1_000;
  let registry: SocketRegistry;
  let buffer: MemoryEventBufferStore;

  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => {
    registry.onModuleDestroy();
    buffer.onModuleDestroy();
    jest.useRealTimers();
  });

  it('keeps what is buffered after the socket closed for as long as the session lives, appends or not', async () => {
    const config = { ws: { heartbeatIntervalMs: HEARTBEAT_MS, eventBufferSize: 10 }, session: { idleTtlS: 2, recheckIntervalS: 300 } };
    buffer = new MemoryEventBufferStore(config as GatewayConfig);
    const sessions = { epoch: async () => 'epoch-1', keepAlive: async () => true, released: async () => undefined };
    registry = new SocketRegistry(
      config as GatewayConfig,
      { onDeliveries: () => undefined, onMissed: () => undefined } as unknown as DeliveryBus,
      { listen: async () => undefined, publish: async () => undefined, onResync: () => undefined } as unknown as ClusterEvents,
      sessions as unknown as SessionService,
      buffer,
      { connected: async () => undefined, disconnected: async () => undefined } as unknown as PresenceStore,
      {} as SubscriptionService,
      new MemoryInstances(),
      { socketsOpen: { set: () => undefined } } as unknown as Metrics,
    );
    await registry.onModuleInit();
    const socket = new FakeSocket(1);
    let closed: (connection: ClientConnection) => void = () => undefined;
    socket.onClose = (listener: (connection: ClientConnection) => void) => (closed = listener);
    const tail = '","event":"CallHeld","identity":"+905300001","timestamp":"2026-01-01T00:00:00.000Z","data":{}}';
    await buffer.open(socket.session.id);
    await buffer.append([{ sessionId: socket.session.id, tail }]);
    await registry.attach(socket as unknown as ClientConnection);

    // A heartbeat keeps the buffer until 2 s after it; the close, 0.9 s later, must restart that clock.
    await jest.advanceTimersByTimeAsync(HEARTBEAT_MS / 20);
    expect(socket.pings).toEqual([Date.now()]);
    await jest.advanceTimersByTimeAsync(900);
    closed(socket as unknown as ClientConnection);
    await jest.advanceTimersByTimeAsync(0);
    await buffer.append([{ sessionId: socket.session.id, tail }]);

    // Past the heartbeat's 2 s, within the close's.
    await jest.advanceTimersByTimeAsync(1_500);
    expect((await buffer.readAfter(socket.session.id, 1)).events.map((e) => e.id)).toEqual([2]);
    await jest.advanceTimersByTimeAsync(500);
    expect(await buffer.readAfter(socket.session.id, 0)).toEqual({ events: [], oldestId: 0, newestId: 0 });
  });
});

describe('SocketRegistry and the right to a session', () => {
  const HEARTBEAT_MS = 1_000;
  let registry: SocketRegistry;
  let sessions: { epoch: jest.Mock; keepAlive: jest.Mock; recheck: jest.Mock; expire: jest.Mock };

  beforeEach(async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    sessions = {
      epoch: jest.fn(async () => 'epoch-1'),
      keepAlive: jest.fn(async () => true),
      recheck: jest.fn(async () => true),
      expire: jest.fn(async () => undefined),
    };
    const config = { ws: { heartbeatIntervalMs: HEARTBEAT_MS }, session: { recheckIntervalS: 2 } };
    registry = new SocketRegistry(
      config as GatewayConfig,
      { onDeliveries: () => undefined, onMissed: () => undefined } as unknown as DeliveryBus,
      { listen: async () => undefined, publish: async () => undefined, onResync: () => undefined } as unknown as ClusterEvents,
      sessions as unknown as SessionService,
      { touch: async () => undefined, markWritten: async () => undefined } as unknown as EventBufferStore,
      { connected: async () => undefined } as unknown as PresenceStore,
      {} as SubscriptionService,
      new MemoryInstances(),
      { socketsOpen: { set: () => undefined } } as unknown as Metrics,
    );
    await registry.onModuleInit();
  });
  afterEach(() => {
    registry.onModuleDestroy();
    jest.useRealTimers();
  });

  it('closes a socket with 4001 at the very end of its session’s lifetime and ends the session', async () => {
    const socket = new FakeSocket(1);
    socket.session.expiresAt = new Date(Date.now() + 2_500).toISOString();
    await registry.attach(socket as unknown as ClientConnection);
    await jest.advanceTimersByTimeAsync(2_499);
    expect(socket.closes).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(socket.closes).toEqual([[4001, 'session expired', 1_002_500]]);
    expect(socket.sessionEnded).toBe(true);
    expect(sessions.expire).toHaveBeenCalledWith(socket.session);
  });

  it('asks every SESSION_RECHECK_INTERVAL_S whether each open socket’s session may go on', async () => {
    const sockets = [new FakeSocket(1), new FakeSocket(2), new FakeSocket(3)];
    for (const socket of sockets) await registry.attach(socket as unknown as ClientConnection);
    sockets[2].isOpen = false;
    await jest.advanceTimersByTimeAsync(1_999);
    expect(sessions.recheck).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(sessions.recheck.mock.calls).toEqual([[sockets[0].session], [sockets[1].session]]);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(sessions.recheck).toHaveBeenCalledTimes(4);
  });
});
