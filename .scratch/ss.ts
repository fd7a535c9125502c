import { Cluster } from 'ioredis';
import { startRedisCluster } from '../test/support/redis-cluster';
(async () => {
  const c = await startRedisCluster();
  const nodes = c.seeds.split(',').map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }));
  const sub = new Cluster(nodes, { shardedSubscribers: true, redisOptions: { maxRetriesPerRequest: null }, slotsRefreshInterval: 1000 });
  const pub = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 0 }, slotsRefreshInterval: 1000, retryDelayOnFailover: 0 });
  for (const e of ['-subscriber', '+subscriber', 'subscribersReady', '+node', '-node', 'refresh']) sub.on(e, () => console.log(Date.now() % 100000, 'sub', e));
  sub.on('error', (e) => console.log('sub error', e.message));
  pub.on('error', (e) => console.log('pub error', e.message));
  const channels = ['ch:{a}', 'ch:{b}', 'ch:{c}', 'ch:{d}', 'ch:{e}'];
  const got: string[] = [];
  sub.on('smessage', (ch: string, m: string) => got.push(`${ch}=${m}`));
  for (const ch of channels) await sub.ssubscribe(ch);
  for (const ch of channels) await pub.spublish(ch, 'before');
  await new Promise((r) => setTimeout(r, 200));
  console.log('got', got.splice(0));
  const victim = await c.masterOfKey('ch:{a}');
  console.log('killing', victim, 'masters', JSON.stringify(await c.masters()));
  await c.kill(victim);
  const t0 = Date.now();
  await c.waitForFailover(victim);
  console.log('failed over after', Date.now() - t0);
  for (let i = 0; i < 20; i++) {
    for (const ch of channels) await pub.spublish(ch, `after${i}`).catch((e) => console.log('spublish', ch, e.message));
    await new Promise((r) => setTimeout(r, 250));
    const g = got.splice(0);
    console.log(Date.now() % 100000, i, g.join(' '));
  }
  sub.disconnect(); pub.disconnect(); await c.close();
})();
