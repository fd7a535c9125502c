import { randomUUID } from 'node:crypto';
import { RedisConnection } from '../src/infra/redis/redis-connection';
import { connectRedis, startRedis, TestRedis } from './support/harness';

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
