import Redis from 'ioredis';

export interface RedisCounters {
  /** Commands run since start (INFO commandstats), those run inside scripts included. */
  commands: number;
  /** Bytes Redis sent to all its clients since start (INFO stats): replies and pub/sub messages. */
  outputBytes: number;
}

/** Commands Redis ran since start, busiest first. */
export async function commandStats(url: string): Promise<Array<{ command: string; calls: number }>> {
  return withClient(url, async (client) => {
    const info = await client.info('commandstats');
    return [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
      .map(([, command, calls]) => ({ command, calls: Number(calls) }))
      .sort((a, b) => b.calls - a.calls);
  });
}

export async function redisCounters(url: string): Promise<RedisCounters> {
  const [stats, info] = await Promise.all([commandStats(url), withClient(url, (client) => client.info('stats'))]);
  const output = /^total_net_output_bytes:(\d+)/m.exec(info);
  return { commands: stats.reduce((n, s) => n + s.calls, 0), outputBytes: output ? Number(output[1]) : 0 };
}

/** What the counters grew by from `before` to `after`. */
export const counted = (after: RedisCounters, before: RedisCounters): RedisCounters => ({
  commands: after.commands - before.commands,
  outputBytes: after.outputBytes - before.outputBytes,
});

async function withClient<T>(url: string, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}
