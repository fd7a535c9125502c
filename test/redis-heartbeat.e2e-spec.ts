import { RedisConnection } from '../src/storage/redis-connection';
import { RunningGateway, startGateway } from './support/gateway';
import { startRedis, TestRedis } from './support/redis-server';
import { TestIssuer } from './support/test-issuer';
import { eventually, openSession, TestSocket } from './support/ws-client';

const HEARTBEAT_MS = 1_000;

/** The heartbeat's Redis work for all of an instance's sockets shares its round trips. */
describe('heartbeat on Redis', () => {
  let redis: TestRedis;
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    issuer = await TestIssuer.start();
    gateway = await startGateway({ ...issuer.env(), STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) });
  });

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await gateway?.close();
    await issuer?.close();
    await redis?.close();
  });

  it('writes to Redis a few times per beat, not a few times per socket', async () => {
    for (const sub of ['alice', 'carol']) {
      const token = await issuer.sign({ sub, scope: 'vora:user' });
      const identities = sub === 'alice' ? ['+905321110001', '+902121110001'] : ['+905321110003', '+902121110003'];
      for (const identity of identities) {
        for (const connectionType of ['WEB', 'DESKTOP', 'MOBILE']) {
          sockets.push((await openSession(gateway, token, { identity, connectionType })).socket);
        }
      }
    }
    // Writes that carry a socket's heartbeat work (other timers poll Redis too).
    const heartbeatWrites: number[] = [];
    const stream = (gateway.app.get(RedisConnection).client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const write = stream.write.bind(stream);
    stream.write = (...args: unknown[]) => {
      if (/vora:(sid|presence):|vora:\{[us]:/.test(String(args[0]))) heartbeatWrites.push(Date.now());
      return write(...args);
    };
    let beatAt = 0;
    sockets[0].socket.once('ping', () => (beatAt = Date.now()));
    await eventually(() => beatAt > 0, 3 * HEARTBEAT_MS, 'a heartbeat');
    // Well before the next beat, the work of this one is done.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS / 2));
    const duringBeat = heartbeatWrites.filter((at) => at >= beatAt - HEARTBEAT_MS / 4 && at < beatAt + HEARTBEAT_MS / 2).length;
    // About one write per step of the beat; one per socket and step would be 6 × 12.
    expect(duringBeat).toBeGreaterThan(0);
    expect(duringBeat).toBeLessThan(sockets.length);
  });
});
