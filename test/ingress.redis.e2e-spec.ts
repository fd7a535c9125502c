import Redis from 'ioredis';
import { StoreUnavailableError } from '../src/common/store-unavailable';
import { EventCatalogue } from '../src/catalogue/catalogue';
import { EventRouter } from '../src/events/event-router';
import { PublishedEvent } from '../src/events/ingress';
import { MemoryInstances } from '../src/cluster/memory-instances';
import { INGRESS_GROUP, INGRESS_STREAM, IngressStreamConsumer } from '../src/events/ingress-stream';
import { Metrics } from '../src/infra/metrics/metrics';
import { RedisConnection } from '../src/infra/redis/redis-connection';
import { ALICE, BOB } from './support/fixtures';
import { connectRedis, eventually, http, redisConfig, setupSession, TestSocket, useGateway, useRedis } from './support/harness';

/** Spelled out rather than imported: the stream the core and operators read (SPEC section 6). */
const DEAD_LETTERS = 'vora:ingress:dead';

type Fields = string[];

/** The dead letters as {fields, as an object} in stream order. */
async function deadLetters(raw: Redis): Promise<Array<{ fields: Fields; byName: Record<string, string> }>> {
  const entries = await raw.xrange(DEAD_LETTERS, '-', '+');
  return entries.map(([, fields]) => {
    const byName: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) byName[fields[i]] = fields[i + 1];
    return { fields, byName };
  });
}

/**
 * One poison entry in `vora:ingress` must not hold back the others (SPEC
 * section 6, issue 14): it goes to `vora:ingress:dead` with its fields, the
 * error and its entry id, and the stream goes on in order.
 */
describe('vora:ingress with entries that cannot be routed', () => {
  let raw: Redis;
  // Declared first, so that it runs before the Redis below is stopped.
  afterAll(() => raw?.disconnect());
  const redis = useRedis();
  beforeAll(() => {
    raw = new Redis(redis.url);
  });

  describe('through the real gateway', () => {
    const { issuer, gateway } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url }));

    it('moves malformed entries to the dead letters at once, and routes those behind them, for every identity, in order', async () => {
      const aliceToken = await setupSession(gateway, await issuer.sign({ sub: 'alice', scope: 'vora:user' }), { identity: ALICE });
      const bobToken = await setupSession(gateway, await issuer.sign({ sub: 'bob', scope: 'vora:user' }), { identity: BOB });
      const alice = (await TestSocket.connect(gateway, { token: aliceToken })).socket;
      const bob = (await TestSocket.connect(gateway, { token: bobToken })).socket;
      try {
        const presence = (identity: string, seq: number): Fields => ['event', 'PresenceChanged', 'identity', identity, 'data', JSON.stringify({ seq })];
        const poison: Array<[Fields, string]> = [
          [['event', 'PresenceChanged', 'identity', ALICE, 'data', '{"seq": 2'], 'data must be JSON'],
          [['event', 'CallExploded', 'identity', ALICE, 'data', '{}'], 'event: unknown event "CallExploded"'],
          [
            ['event', 'PresenceChanged', 'identity', ALICE, 'data', '{"seq": 99, "__proto__": {"polluted": true}}'],
            'data contains a forbidden key (__proto__ or constructor)',
          ],
          [['event', 'PresenceChanged', 'identity', ALICE, '__proto__', 'x'], 'event: unknown fields: __proto__'],
          [['event', 'PresenceChanged', 'data', '{"seq": 98}'], 'event: identity must be an E.164 number'],
          [['event', 'PresenceChanged', 'identity', 'alice', 'data', '{}'], 'event: identity must be an E.164 number'],
        ];
        const entries: Fields[] = [
          presence(ALICE, 1),
          poison[0][0],
          presence(BOB, 1),
          poison[1][0],
          presence(ALICE, 2),
          poison[2][0],
          poison[3][0],
          presence(BOB, 2),
          poison[4][0],
          poison[5][0],
          // The last entry of each identity: nothing that slipped through can hide after it.
          presence(ALICE, 3),
          presence(BOB, 3),
        ];
        const ids: string[] = [];
        for (const fields of entries) ids.push((await raw.xadd(INGRESS_STREAM, '*', ...fields))!);

        expect((await alice.events(3, 15_000)).map((e) => [e.id, e.data])).toEqual([['1', { seq: 1 }], ['2', { seq: 2 }], ['3', { seq: 3 }]]);
        expect((await bob.events(3)).map((e) => [e.id, e.data])).toEqual([['1', { seq: 1 }], ['2', { seq: 2 }], ['3', { seq: 3 }]]);
        expect(alice.pending()).toEqual([]);
        expect(bob.pending()).toEqual([]);

        const poisonIds = [ids[1], ids[3], ids[5], ids[6], ids[8], ids[9]];
        const dead = await deadLetters(raw);
        expect(dead.map((letter) => letter.fields)).toEqual(
          poison.map(([fields, error], i) => [...fields, 'error', error, 'sourceId', poisonIds[i]]),
        );
        await eventually(async () => expect((await raw.xpending(INGRESS_STREAM, INGRESS_GROUP))[0]).toBe(0));
        const metrics: string = (await http(`${gateway.url}/metrics`)).body;
        expect(metrics).toContain('vora_ingress_dead_letters_total{reason="malformed"} 6');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      } finally {
        await Promise.all([alice.close(), bob.close()]);
      }
    });
  });

  describe('an entry whose routing keeps failing', () => {
    const catalogue = new EventCatalogue([{ name: 'PresenceChanged', target: 'identity', modes: ['user', 'manager'] }]);
    let connection: RedisConnection;
    let metrics: Metrics;
    let consumer: IngressStreamConsumer | undefined;

    /** Stands in for EventRouter: routes what `fails` lets through, whole batches or nothing, as the router does. */
    class FailingRouter {
      readonly routed: string[] = [];
      readonly calls: string[][] = [];
      constructor(private readonly fails: (event: PublishedEvent, call: number) => Error | undefined) {}
      async route(events: readonly PublishedEvent[]): Promise<void> {
        const names = events.map((event) => `${event.identity}:${event.data.seq}`);
        this.calls.push(names);
        for (const event of events) {
          const error = this.fails(event, this.calls.length);
          if (error) throw error;
        }
        this.routed.push(...names);
      }
    }

    const start = (router: FailingRouter) => {
      consumer = new IngressStreamConsumer(connection, catalogue, router as unknown as EventRouter, metrics, new MemoryInstances(), redisConfig(redis.url));
      consumer.onApplicationBootstrap();
    };
    const add = async (identity: string, seq: number | string) =>
      (await raw.xadd(INGRESS_STREAM, '*', 'event', 'PresenceChanged', 'identity', identity, 'data', JSON.stringify({ seq })))!;
    const deadLettered = async (reason: string) =>
      (await metrics.ingressDeadLetters.get()).values.find((value) => value.labels.reason === reason)?.value ?? 0;

    beforeEach(async () => {
      await raw.flushdb();
      metrics = new Metrics();
      connection = await connectRedis(redis.url);
    });
    afterEach(async () => {
      await consumer?.beforeApplicationShutdown();
      consumer = undefined;
      await connection.close();
    });

    it('is tried alone 5 times, then moved to the dead letters with its error; the entries behind it are routed in order, once', async () => {
      const router = new FailingRouter((event) => (event.data.seq === 'poison' ? new Error('the buffer script failed') : undefined));
      await add(ALICE, 1);
      const poisonId = await add(ALICE, 'poison');
      await add(BOB, 1);
      await add(ALICE, 2);
      await add(BOB, 2);
      start(router);

      await eventually(() => expect(router.routed).toEqual([`${ALICE}:1`, `${BOB}:1`, `${ALICE}:2`, `${BOB}:2`]), { timeoutMs: 20_000 });
      expect(router.calls.filter((names) => names.length === 1 && names[0] === `${ALICE}:poison`)).toHaveLength(5);
      const dead = await deadLetters(raw);
      expect(dead.map((letter) => letter.byName)).toEqual([
        {
          event: 'PresenceChanged',
          identity: ALICE,
          data: '{"seq":"poison"}',
          error: 'routing failed 5 times: the buffer script failed',
          sourceId: poisonId,
        },
      ]);
      await eventually(async () => expect((await raw.xpending(INGRESS_STREAM, INGRESS_GROUP))[0]).toBe(0));
      expect(await deadLettered('routing')).toBe(1);
    });

    it('is not blamed for Redis being unreachable: retried until it answers, nothing moved to the dead letters', async () => {
      // Longer than five attempts at an entry take (200 ms apart): were outages counted, the first entry would be dead.
      let outageEndsAt = Infinity;
      const router = new FailingRouter(() => (Date.now() < outageEndsAt ? new StoreUnavailableError() : undefined));
      await add(ALICE, 1);
      await add(BOB, 1);
      await add(ALICE, 2);
      outageEndsAt = Date.now() + 2_500;
      start(router);

      await eventually(() => expect(router.routed).toEqual([`${ALICE}:1`, `${BOB}:1`, `${ALICE}:2`]), { timeoutMs: 20_000 });
      expect(router.calls.length).toBeGreaterThan(1);
      expect(await raw.exists(DEAD_LETTERS)).toBe(0);
      expect(await deadLettered('routing')).toBe(0);
    });
  });
});
