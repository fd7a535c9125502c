import Redis from 'ioredis';
import { startRedisSentinel } from '../test/support/redis-sentinel';
(async () => {
  const s = await startRedisSentinel();
  const sentinels = s.sentinels.split(',').map((x) => ({ host: '127.0.0.1', port: Number(x.split(':')[1]) }));
  const c = new Redis({ sentinels, name: s.masterName, failoverDetector: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: (t) => Math.min(100 * 2 ** Math.min(t, 5), 2000) });
  c.on('error', () => undefined);
  const t0 = Date.now();
  const where = () => `${(c as any).stream?.remotePort}`;
  c.on('ready', () => console.log(Date.now() - t0, 'ready on', where()));
  c.on('close', () => console.log(Date.now() - t0, 'close'));
  await new Promise((r) => c.once('ready', r));
  const before = await s.masterPort();
  console.log('master', before);
  void s.failover().then(() => console.log(Date.now() - t0, 'failover sent'));
  let last = '';
  for (let i = 0; i < 300; i++) {
    const r = await c.incr('n').then((v) => `ok@${where()}`, (e) => `err ${e.message.slice(0, 40)}`);
    if (r !== last) { console.log(Date.now() - t0, i, r); last = r; }
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log('final n on master', await s.masterPort(), await s.client().get('n'));
  c.disconnect(); await s.close(); process.exit(0);
})();
