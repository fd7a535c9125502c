import { Metrics } from '../../src/metrics/metrics';
import { randomUUID } from 'node:crypto';
import { RedisClusterBus } from '../../src/common/redis-cluster-bus';
import { StoreUnavailableError } from '../../src/common/store-unavailable';
import { RedisEventBuffer } from '../../src/events/redis-event-buffer';
import { RedisEventBus } from '../../src/events/redis-event-bus';
import { RedisSessionStore } from '../../src/session/redis-session.store';
import { RedisSubscriptionStore } from '../../src/session/redis-subscription.store';
import { Session } from '../../src/session/session';
import { SUBSCRIBE_ALL } from '../../src/session/subscription.store';
import { RedisConnection } from '../../src/storage/redis-connection';
import { eventually } from '../support/eventually';
import { connectRedis, faultTestsUnsupported, redisConfig, startRedis, TestRedis } from '../support/redis-server';

const LIMITS = { ttlS: 60, maxPerUser: 10 };

const newSession = (): Session => ({
  id: randomUUID(),
  sub: `user-${randomUUID()}`,
  mode: 'user',
  identity: '+905321110001',
  connectionType: 'WEB',
  holdUpMode: false,
  tokenHash: randomUUID(),
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
});

let redis: TestRedis;
let skipReason: string | undefined;
beforeAll(async () => {
  redis = await startRedis();
  skipReason = faultTestsUnsupported(redis);
  if (skipReason) console.warn(`Redis fault tests ${skipReason}`);
});
afterAll(async () => {
  await redis?.close();
});

/** Bounded: a store call that hangs instead of failing fails the test here, not at the jest timeout. */
const settledWithin = <T>(promise: Promise<T>, ms = 5_000): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms: the call hangs`)), ms).unref()),
  ]);

describe('Redis adapters when Redis goes away and comes back', () => {
  let publisher: RedisConnection;
  let listener: RedisConnection;

  beforeAll(async () => {
    if (skipReason) return;
    [publisher, listener] = await Promise.all([connectRedis(redis.url), connectRedis(redis.url)]);
  });
  afterAll(async () => {
    await Promise.all([publisher?.close(), listener?.close()]);
  });

  it('fails fast with StoreUnavailableError while down, and recovers with pub/sub re-subscribed', async () => {
    if (skipReason) return;
    const sessions = new RedisSessionStore(publisher);
    const subscriptions = new RedisSubscriptionStore(publisher);
    const buffer = new RedisEventBuffer(publisher, redisConfig(redis.url));
    const bus = new RedisClusterBus(publisher);
    const events = new RedisEventBus(publisher);
    const topic = `vora:test:${randomUUID()}`;
    const heard: string[] = [];
    await new RedisClusterBus(listener).subscribe(topic, (m) => heard.push(m));
    await bus.publish(topic, 'before');
    await eventually(() => expect(heard).toEqual(['before']));
    await sessions.open(newSession(), LIMITS);

    await redis.stop();

    const calls: Array<[string, () => Promise<unknown>]> = [
      ['ping', () => sessions.ping()],
      ['open', () => sessions.open(newSession(), LIMITS)],
      ['get', () => sessions.get(randomUUID())],
      ['findByTokenHash', () => sessions.findByTokenHash(randomUUID())],
      ['listByIdentity', () => sessions.listByIdentity('+905321110001')],
      ['touch', () => sessions.touch(newSession(), 60)],
      ['remove', () => sessions.remove(randomUUID())],
      ['subscriptions.putIfAbsent', () => subscriptions.putIfAbsent('alice', '+905321110001', SUBSCRIBE_ALL, 60)],
      ['buffer.append', () => buffer.append([{ sessionId: randomUUID(), tail: '"}' }])],
      ['buffer.readAfter', () => buffer.readAfter(randomUUID(), 0)],
      ['buffer.touch', () => buffer.touch(randomUUID())],
      ['buffer.markWritten', () => buffer.markWritten(randomUUID(), 1)],
      ['subscriptions.touch', () => subscriptions.touch('alice', '+905321110001', 60)],
      ['clusterBus.publish', () => bus.publish(topic, 'while down')],
      ['eventBus.deliver', () => events.deliver([{ sessionId: 's', id: 1, frame: '{}' }])],
    ];
    for (const [name, call] of calls) {
      const outcome = await settledWithin(call().then(() => 'resolved', (error: unknown) => error));
      expect([name, outcome]).toEqual([name, expect.any(StoreUnavailableError)]);
    }

    // A subscription made while Redis is away neither hangs nor is lost.
    const lateHeard: string[] = [];
    await settledWithin(new RedisClusterBus(listener).subscribe(`${topic}:late`, (m) => lateHeard.push(m)));

    await redis.start();

    await eventually(() => sessions.ping(), { timeoutMs: 20_000 });
    const session = newSession();
    expect(await sessions.open(session, LIMITS)).toEqual({ opened: true });
    expect(await sessions.findByTokenHash(session.tokenHash)).toEqual(session);
    // The listener's connection re-subscribed on its own: publish until it hears again.
    await eventually(
      async () => {
        await bus.publish(topic, 'after');
        await bus.publish(`${topic}:late`, 'late');
        expect(heard).toContain('after');
        expect(lateHeard).toContain('late');
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(heard).not.toContain('while down');
  });

  it('starts without Redis: construction, subscribe and ping neither hang nor throw synchronously', async () => {
    if (skipReason) return;
    await redis.stop();
    const connection = new RedisConnection(redisConfig(redis.url), new Metrics());
    try {
      expect(await connection.ready(300)).toBe(false);
      const sessions = new RedisSessionStore(connection);
      await expect(settledWithin(sessions.ping())).rejects.toBeInstanceOf(StoreUnavailableError);
      const heard: string[] = [];
      await settledWithin(new RedisClusterBus(connection).subscribe('vora:test:boot', (m) => heard.push(m)));

      await redis.start();
      await eventually(() => sessions.ping(), { timeoutMs: 20_000 });
      const bus = new RedisClusterBus(publisher);
      await eventually(
        async () => {
          await bus.publish('vora:test:boot', 'hello');
          expect(heard).toContain('hello');
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } finally {
      await connection.close();
    }
  });
});
