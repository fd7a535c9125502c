import { ClusterBus } from '../common/cluster-bus';
import { GatewayConfig } from '../config/gateway-config';
import { EventBuffer } from '../events/event-buffer';
import { EventBus } from '../events/event-bus';
import { SubscriptionService } from '../events/subscription.service';
import { Metrics } from '../metrics/metrics';
import { Presence } from '../session/presence';
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
  storeEpoch?: string = 'epoch-1';
  subscription = undefined;
  constructor(n: number) {
    this.id = `connection-${n}`;
    this.session = { id: `session-${n}`, sub: `user-${n}`, identity: `+90530000${n}`, expiresAt: '2999-01-01T00:00:00.000Z' };
  }
  ping(): void {
    this.pings.push(Date.now());
  }
  onClose(): void {}
  terminate(): void {}
  close(): void {}
  unpersistedWrittenId(): undefined {
    return undefined;
  }
}

/** A registry whose stores answer at once, with `count` sockets attached. */
async function registryWith(count: number): Promise<{ registry: SocketRegistry; sockets: FakeSocket[]; epochReads: () => number }> {
  let epochReads = 0;
  const sessions = {
    epoch: async () => {
      epochReads++;
      return 'epoch-1';
    },
    keepAlive: async () => true,
  } as unknown as SessionService;
  const registry = new SocketRegistry(
    { ws: { heartbeatIntervalMs: INTERVAL_MS }, session: { recheckIntervalS: 300 } } as GatewayConfig,
    { onDeliveries: () => undefined } as unknown as EventBus,
    { subscribe: async () => undefined, publish: async () => undefined } as unknown as ClusterBus,
    sessions,
    { touch: async () => undefined, markWritten: async () => undefined } as unknown as EventBuffer,
    { connected: async () => undefined } as unknown as Presence,
    {} as SubscriptionService,
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
});
