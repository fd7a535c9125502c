import { RedisConnection } from '../src/infra/redis/redis-connection';
import { ALICE, ALICE_FIXED, CAROL, CAROL_FIXED } from './support/fixtures';
import { eventually, openSession, RunningGateway, TestSocket, useGateway, useRedis } from './support/harness';

const HEARTBEAT_MS = 1_000;

/** Records every write of the gateway's command connection to Redis, from now on. */
function recordWrites(gateway: RunningGateway): string[] {
  const writes: string[] = [];
  const stream = (gateway.app.get(RedisConnection).client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
  const write = stream.write.bind(stream);
  stream.write = (...args: unknown[]) => {
    writes.push(String(args[0]));
    return write(...args);
  };
  return writes;
}

/** The heartbeat's Redis work for all of an instance's sockets shares its round trips. */
describe('heartbeat on Redis', () => {
  const sockets: TestSocket[] = [];
  // An idle TTL of 2 s: the sessions' TTLs are refreshed every second, at every beat.
  // Declared first, so that the sockets close before the gateway and Redis stop.
  afterAll(() => Promise.all(sockets.map((socket) => socket.close())));
  const redis = useRedis();
  const { issuer, gateway } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS), SESSION_IDLE_TTL_S: '2' }));

  it('shares its round trips between sockets: one write carries every socket’s refresh, not one write each', async () => {
    const sessionIds: string[] = [];
    for (const sub of ['alice', 'carol']) {
      const token = await issuer.sign({ sub, scope: 'vora:user' });
      const identities = sub === 'alice' ? [ALICE, ALICE_FIXED] : [CAROL, CAROL_FIXED];
      for (const identity of identities) {
        for (const connectionType of ['WEB', 'DESKTOP', 'MOBILE']) {
          const opened = await openSession(gateway, token, { identity, connectionType });
          sockets.push(opened.socket);
          sessionIds.push(opened.welcome.sessionId);
        }
      }
    }
    // What each write to Redis carries, from here on (the sockets opened one by one before).
    const writes = recordWrites(gateway);
    const carriesAll = (key: (sessionId: string) => string) => writes.some((text) => sessionIds.every((id) => text.includes(key(id))));
    const carriesOne = (key: (sessionId: string) => string) =>
      writes.some((text) => sessionIds.filter((id) => text.includes(key(id))).length === 1);

    // A heartbeat refreshes every socket's presence and buffer TTL; wait for the write that carries them.
    await eventually(() => carriesAll((id) => `vora:{s:${id}}:presence`), { timeoutMs: 3 * HEARTBEAT_MS, what: 'a write with every presence refresh' });
    await eventually(() => carriesAll((id) => `vora:{s:${id}}:meta`), { timeoutMs: 3 * HEARTBEAT_MS, what: 'a write with every buffer touch' });
    // And no heartbeat wrote a socket's refresh on its own.
    expect(carriesOne((id) => `vora:{s:${id}}:presence`)).toBe(false);
    expect(carriesOne((id) => `vora:{s:${id}}:meta`)).toBe(false);
  });
});

describe('heartbeat on Redis with the default idle TTL', () => {
  const redis = useRedis();
  const { issuer, gateway } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '200' }));

  it('pings every interval but refreshes TTLs only as often as SESSION_IDLE_TTL_S needs: an idle socket writes nothing to Redis', async () => {
    const token = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const { socket, welcome } = await openSession(gateway, token, { identity: ALICE, connectionType: 'WEB' });
    const sessionId: string = welcome.sessionId;
    const writes = recordWrites(gateway);
    let pings = 0;
    socket.socket.on('ping', () => pings++);
    await eventually(() => pings >= 5, { what: 'five pings' });
    // Five beats of this socket, and not one of its keys written: its session, buffer and presence live an hour.
    expect(writes.filter((text) => text.includes(sessionId) || text.includes('{u:alice}'))).toEqual([]);
    await socket.close();
  });
});
