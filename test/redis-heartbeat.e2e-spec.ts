import { RedisConnection } from '../src/infra/redis/redis-connection';
import { RunningGateway, startGateway } from './support/gateway';
import { startRedis, TestRedis } from './support/redis-server';
import { TestIssuer } from './support/test-issuer';
import { eventually, openSession, TestSocket } from './support/ws-client';

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
  let redis: TestRedis;
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    issuer = await TestIssuer.start();
    // An idle TTL of 2 s: the sessions' TTLs are refreshed every second, at every beat.
    gateway = await startGateway({
      ...issuer.env(),
      STORE: 'redis',
      REDIS_URL: redis.url,
      HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
      SESSION_IDLE_TTL_S: '2',
    });
  });

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await gateway?.close();
    await issuer?.close();
    await redis?.close();
  });

  it('shares its round trips between sockets: one write carries every socket’s refresh, not one write each', async () => {
    const sessionIds: string[] = [];
    for (const sub of ['alice', 'carol']) {
      const token = await issuer.sign({ sub, scope: 'vora:user' });
      const identities = sub === 'alice' ? ['+905321110001', '+902121110001'] : ['+905321110003', '+902121110003'];
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
    await eventually(() => carriesAll((id) => `vora:{s:${id}}:presence`), 3 * HEARTBEAT_MS, 'a write with every presence refresh');
    await eventually(() => carriesAll((id) => `vora:{s:${id}}:meta`), 3 * HEARTBEAT_MS, 'a write with every buffer touch');
    // And no heartbeat wrote a socket's refresh on its own.
    expect(carriesOne((id) => `vora:{s:${id}}:presence`)).toBe(false);
    expect(carriesOne((id) => `vora:{s:${id}}:meta`)).toBe(false);
  });
});

describe('heartbeat on Redis with the default idle TTL', () => {
  let redis: TestRedis;
  let issuer: TestIssuer;
  let gateway: RunningGateway;

  beforeAll(async () => {
    redis = await startRedis();
    issuer = await TestIssuer.start();
    gateway = await startGateway({ ...issuer.env(), STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '200' });
  });

  afterAll(async () => {
    await gateway?.close();
    await issuer?.close();
    await redis?.close();
  });

  it('pings every interval but refreshes TTLs only as often as SESSION_IDLE_TTL_S needs: an idle socket writes nothing to Redis', async () => {
    const token = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const { socket, welcome } = await openSession(gateway, token, { identity: '+905321110001', connectionType: 'WEB' });
    const sessionId: string = welcome.sessionId;
    const writes = recordWrites(gateway);
    let pings = 0;
    socket.socket.on('ping', () => pings++);
    await eventually(() => pings >= 5, 10_000, 'five pings');
    // Five beats of this socket, and not one of its keys written: its session, buffer and presence live an hour.
    expect(writes.filter((text) => text.includes(sessionId) || text.includes('{u:alice}'))).toEqual([]);
    await socket.close();
  });
});
