import { randomUUID } from 'node:crypto';
import { RedisConnection } from '../src/infra/redis/redis-connection';
import { Cluster } from 'ioredis';
import { Metrics } from '../src/infra/metrics/metrics';
import { keySlot } from '../src/infra/redis/key-slot';
import { startRedisCluster } from './support/redis-cluster';
import { connectRedis, redisConfig, startRedis, TestRedis, TestRedisCluster } from './support/harness';

let redis: TestRedis;
let connection: RedisConnection;
beforeAll(async () => {
  redis = await startRedis();
  connection = await connectRedis(redis.url);
});
afterAll(async () => {
  await connection?.close();
  await redis?.close();
});

describe('RedisConnection.inTurn', () => {
  it('sends the commands of calls made side by side in one pipeline, each caller getting its own replies', async () => {
    const keys = Array.from({ length: 20 }, () => `vora:test:${randomUUID()}`);
    const pipelines = jest.spyOn(connection.client, 'pipeline');
    try {
      const replies = await Promise.all(
        keys.map((key, i) => connection.inTurn(key, (pipeline) => pipeline.set(key, String(i)).get(key))),
      );
      expect(replies).toEqual(keys.map((_, i) => ['OK', String(i)]));
      expect(pipelines).toHaveBeenCalledTimes(1);
    } finally {
      pipelines.mockRestore();
    }
  });

  it('fails only the caller whose command failed', async () => {
    const text = `vora:test:${randomUUID()}`;
    await connection.client.set(text, 'not a hash');
    const [failed, other] = await Promise.allSettled([
      connection.inTurn(text, (pipeline) => pipeline.hget(text, 'field')),
      connection.inTurn(text, (pipeline) => pipeline.get(text)),
    ]);
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: expect.stringContaining('WRONGTYPE') } });
    expect(other).toEqual({ status: 'fulfilled', value: ['not a hash'] });
  });

  it('starts a new pipeline for calls made after the last one left', async () => {
    const key = `vora:test:${randomUUID()}`;
    await connection.inTurn(key, (pipeline) => pipeline.set(key, 'first'));
    expect(await connection.inTurn(key, (pipeline) => pipeline.getset(key, 'second'))).toEqual(['first']);
    expect(await connection.inTurn(key, (pipeline) => pipeline.get(key))).toEqual(['second']);
  });
});

describe('RedisConnection on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let onCluster: RedisConnection;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    onCluster = await connectRedis(cluster.env());
  }, 60_000);
  afterAll(async () => {
    await onCluster?.close();
    await cluster?.close();
  });

  /** Keys of every shape the gateway writes, with and without hash tags, and tags that are empty or unclosed. */
  const KEYS = ['vora:{u:alice}:sessions', 'vora:{s:3f1c}:events', 'vora:sid:3f1c', 'vora:ingress:{7}', '{}x', 'a{b', 'vora:{u:%E2%98%8E}:sub:+905321110001', 'é{ü}z'];

  it('hashes keys to the slots Redis does', async () => {
    const client = cluster.client();
    try {
      for (const key of KEYS) expect([key, keySlot(key)]).toEqual([key, await client.cluster('KEYSLOT', key)]);
    } finally {
      client.disconnect();
    }
  });

  it('sends a batch over many slots as one pipeline per master, each part getting its own replies in order', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `vora:{s:${randomUUID()}}:events-${i}`);
    const masters = new Set(await Promise.all(keys.map((key) => cluster.masterOfKey(key))));
    expect(masters.size).toBe(3);
    const pipelines = jest.spyOn(onCluster.client, 'pipeline');
    try {
      const batch = onCluster.batch();
      keys.forEach((key, i) => batch.add(key, (pipeline) => pipeline.set(key, String(i)).get(key)));
      const replies = await batch.exec();
      expect(replies).toEqual(keys.map((_, i) => [[null, 'OK'], [null, String(i)]]));
      expect(pipelines).toHaveBeenCalledTimes(3);
    } finally {
      pipelines.mockRestore();
    }
  });

  it('shares one turn\'s pipeline per master between the calls made side by side', async () => {
    const keys = Array.from({ length: 30 }, () => `vora:{u:${randomUUID()}}:sub:x`);
    const pipelines = jest.spyOn(onCluster.client, 'pipeline');
    try {
      const replies = await Promise.all(keys.map((key, i) => onCluster.inTurn(key, (pipeline) => pipeline.set(key, String(i)).get(key))));
      expect(replies).toEqual(keys.map((_, i) => ['OK', String(i)]));
      expect(pipelines).toHaveBeenCalledTimes(new Set(await Promise.all(keys.map((key) => cluster.masterOfKey(key)))).size);
    } finally {
      pipelines.mockRestore();
    }
  });

  it('counts a MOVED it followed: a slot table that names the wrong master still reaches the key', async () => {
    const metrics = new Metrics();
    const { store } = redisConfig(cluster.env());
    if (store.kind !== 'redis') throw new Error('not a Redis configuration');
    const connection = new RedisConnection(store.topology, metrics);
    try {
      expect(await connection.ready(10_000)).toBe(true);
      const key = `vora:test:${randomUUID()}`;
      await connection.client.set(key, 'here');
      const client = connection.client as Cluster;
      const slot = keySlot(key);
      const owner = client.slots[slot][0];
      const other = [...new Set(client.slots.map((nodes) => nodes[0]))].find((node) => node !== owner)!;
      client.slots[slot] = [other];
      expect(await client.get(key)).toBe('here');
      expect((await metrics.registry.getSingleMetric('vora_redis_redirects_total')!.get()).values).toEqual([
        expect.objectContaining({ labels: { kind: 'moved' }, value: 1 }),
      ]);
    } finally {
      await connection.close();
    }
  });

  it('reports no problem to readiness while every slot has a master that answers', async () => {
    expect(await onCluster.problem()).toBeUndefined();
  });
});
