import Redis, { Cluster } from 'ioredis';
import { redisCommand, startRedisCluster, TestRedisCluster } from './support/redis-cluster';
import { startRedisSentinel, TestRedisSentinel } from './support/redis-sentinel';

/**
 * The test harness's Redis Cluster and Sentinel set-ups are real: they serve keys, fail over
 * when a test kills a master, and take the killed node back. One of each for the file,
 * started side by side. With TEST_LOGS set, prints how long each step took.
 */
describe('Redis Cluster and Sentinel for tests', () => {
  let cluster: TestRedisCluster;
  let sentinel: TestRedisSentinel;
  const timings: string[] = [];

  async function timed<T>(what: string, step: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await step();
    timings.push(`${what}: ${Date.now() - started} ms`);
    return result;
  }

  beforeAll(async () => {
    const [startedCluster, startedSentinel] = await Promise.allSettled([
      timed('cluster start', startRedisCluster),
      timed('sentinel start', startRedisSentinel),
    ]);
    if (startedCluster.status === 'fulfilled') cluster = startedCluster.value;
    if (startedSentinel.status === 'fulfilled') sentinel = startedSentinel.value;
    for (const started of [startedCluster, startedSentinel]) if (started.status === 'rejected') throw started.reason;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([cluster?.close(), sentinel?.close()]);
    if (process.env.TEST_LOGS) console.log(timings.join('\n'));
  });

  describe('Redis Cluster', () => {
    let client: Cluster;

    beforeAll(() => {
      client = cluster.client();
    });

    afterAll(() => client.disconnect());

    /** The node connection of `client` to master `port`: WAIT there counts that connection's writes. */
    const connectionTo = (port: number): Redis => {
      const node = client.nodes('master').find((candidate) => candidate.options.port === port);
      if (!node) throw new Error(`the client has no connection to master ${port}`);
      return node;
    };

    it('serves all 16384 slots from three masters, each key from the master masterOfKey names', async () => {
      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      expect(masters.flatMap((master) => master.slots).reduce((sum, [from, to]) => sum + to - from + 1, 0)).toBe(16384);
      expect(cluster.seeds.split(',')).toHaveLength(6);
      expect(cluster.env()).toEqual({ STORE: 'redis', REDIS_CLUSTER_NODES: cluster.seeds });

      const keyOn = new Map<number, string>();
      for (let i = 0; keyOn.size < masters.length; i++) {
        const key = `topologies:spread:${i}`;
        const master = await cluster.masterOfKey(key);
        if (!keyOn.has(master)) keyOn.set(master, key);
      }
      for (const [master, key] of keyOn) {
        await client.set(key, `on ${master}`);
        // Asked directly, not through the client: the key lives on the master named for it.
        await expect(redisCommand(master, 'GET', key)).resolves.toBe(`on ${master}`);
      }
    });

    it("hands a killed master's slots and keys to its replica, then takes the node back as a replica", async () => {
      const key = 'topologies:failover';
      await client.set(key, 'before');
      const oldMaster = await cluster.masterOfKey(key);
      // The replica must hold the write before its master dies.
      await expect(connectionTo(oldMaster).wait(1, 2000)).resolves.toBe(1);

      await cluster.kill(oldMaster);
      await timed('cluster failover (kill to waitForFailover)', () => cluster.waitForFailover(oldMaster));

      const newMaster = await cluster.masterOfKey(key);
      expect(newMaster).not.toBe(oldMaster);
      // The client made before the kill finds the new master by itself.
      await expect(client.get(key)).resolves.toBe('before');
      await client.set(key, 'after');
      await expect(redisCommand(newMaster, 'GET', key)).resolves.toBe('after');

      await timed('cluster restart of the killed master', () => cluster.restart(oldMaster));
      await expect(redisCommand(oldMaster, 'ROLE')).resolves.toEqual(expect.arrayContaining(['slave', newMaster]));
      expect((await cluster.masters()).map((master) => master.port)).toContain(newMaster);
    }, 60_000);

    it('flush empties every master', async () => {
      await client.set('topologies:flushed', 'x');
      await cluster.flush();
      await expect(client.get('topologies:flushed')).resolves.toBeNull();
    });
  });

  describe('Redis Sentinel', () => {
    let client: Redis;

    beforeAll(() => {
      client = sentinel.client();
    });

    afterAll(() => client.disconnect());

    it('promotes the replica of a killed master; a sentinel client then writes to the new master', async () => {
      expect(sentinel.env()).toEqual({ STORE: 'redis', REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_MASTER: 'vora' });
      await client.set('topologies:sentinel', 'before');
      // The replica must hold the write before its master dies.
      await expect(client.wait(1, 2000)).resolves.toBe(1);

      const oldMaster = await sentinel.killMaster();
      const newMaster = await timed('sentinel failover (kill to waitForNewMaster)', () => sentinel.waitForNewMaster(oldMaster));
      expect(newMaster).not.toBe(oldMaster);
      await expect(sentinel.masterPort()).resolves.toBe(newMaster);

      await expect(client.get('topologies:sentinel')).resolves.toBe('before');
      await client.set('topologies:sentinel', 'after');
      await expect(redisCommand(newMaster, 'GET', 'topologies:sentinel')).resolves.toBe('after');

      await timed('sentinel restart of the killed master', () => sentinel.restart(oldMaster));
      await expect(redisCommand(oldMaster, 'ROLE')).resolves.toEqual(expect.arrayContaining(['slave', newMaster]));
    }, 60_000);

    it('a planned failover makes the replica master and the old master its replica', async () => {
      const oldMaster = await sentinel.masterPort();
      await sentinel.failover();
      const newMaster = await timed('sentinel planned failover', () => sentinel.waitForNewMaster(oldMaster));
      expect(newMaster).not.toBe(oldMaster);
      await expect(redisCommand(oldMaster, 'ROLE')).resolves.toEqual(expect.arrayContaining(['slave', newMaster]));

      const fresh = sentinel.client();
      try {
        await fresh.set('topologies:planned', 'written');
        await expect(redisCommand(newMaster, 'GET', 'topologies:planned')).resolves.toBe('written');
      } finally {
        fresh.disconnect();
      }
    }, 60_000);

    it('with the sentinels killed a new client finds no master; started again, they answer', async () => {
      await sentinel.killSentinels();
      const orphan = new Redis({
        sentinels: sentinel.sentinels.split(',').map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) })),
        name: sentinel.masterName,
        lazyConnect: true,
        sentinelRetryStrategy: () => null,
      });
      orphan.on('error', () => undefined);
      try {
        await expect(orphan.connect()).rejects.toThrow(/All sentinels are unreachable/);
      } finally {
        orphan.disconnect();
      }

      await timed('sentinels restart', () => sentinel.startSentinels());
      const fresh = sentinel.client();
      try {
        await expect(fresh.ping()).resolves.toBe('PONG');
      } finally {
        fresh.disconnect();
      }
    }, 30_000);

    it('flush empties the master', async () => {
      const fresh = sentinel.client();
      try {
        await fresh.set('topologies:flushed', 'x');
        await sentinel.flush();
        await expect(fresh.get('topologies:flushed')).resolves.toBeNull();
      } finally {
        fresh.disconnect();
      }
    });
  });
});
