import WebSocket from 'ws';
import { VoraClient } from '../client/src';
import type { WebSocketConstructor } from '../client/src';
import { SessionRecorder } from './support/session-recorder';
import { TcpProxy } from './support/tcp-proxy';
import { ALICE } from './support/fixtures';
import { faultTestsUnsupported, GatewayProcess, http, useIssuer, useRedis } from './support/harness';

/**
 * @vora/client behind a load balancer of gateway processes on one Redis:
 * when the instance holding its socket is SIGKILLed (1006) or shuts down
 * (1001), it resumes on another, and listeners still see every event once,
 * in order (SPEC sections 9 and 11).
 */
describe('@vora/client across instances (STORE=redis)', () => {
  let proxy: TcpProxy;
  const gateways: GatewayProcess[] = [];
  // Declared first, so that the proxy and the instances stop before the Redis and the issuer.
  afterAll(async () => {
    await proxy?.close();
    await Promise.all(gateways.map((gateway) => gateway.kill('SIGKILL')));
  });
  const redis = useRedis();
  const issuer = useIssuer();
  let core: string;

  const start = async () => {
    const gateway = await GatewayProcess.start({ ...issuer.env(), STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '500' });
    gateways.push(gateway);
    return gateway;
  };
  const publish = async (gateway: GatewayProcess, from: number, count: number) => {
    const events = Array.from({ length: count }, (_, i) => ({ event: 'PresenceChanged', identity: ALICE, data: { presence: `p${from + i}` } }));
    const result = await http(`${gateway.url}/events`, { token: core, body: events });
    expect(result.status).toBe(202);
  };

  beforeAll(async () => {
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
  });

  it('resumes on another instance after a SIGKILL and after a shutdown, with every event once and in order', async () => {
    if (faultTestsUnsupported(redis)) throw new Error(faultTestsUnsupported(redis));
    const [a, b] = await Promise.all([start(), start()]);
    proxy = await TcpProxy.start(a.port);
    jest.spyOn(Math, 'random').mockReturnValue(0.1);
    const client = new VoraClient({
      baseUrl: proxy.url,
      accessToken: () => issuer.sign({ sub: 'alice', scope: 'vora:user' }),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const recorder = new SessionRecorder(await client.openSession({ identity: ALICE, connectionType: 'WEB' }));
    try {
      await recorder.state('connected');
      await publish(b, 1, 5);
      await recorder.eventCount(5);

      // A dies with the socket; the reconnect lands on B, while B keeps taking events.
      proxy.setUpstream(b.port);
      await a.kill('SIGKILL');
      await publish(b, 6, 5);
      const onB = await recorder.welcomeCount(2);
      expect(onB.sessionId).toBe(recorder.welcomes[0].sessionId);
      await publish(b, 11, 5);
      await recorder.eventCount(15);

      // B shuts down (1001); the reconnect lands on a new instance C.
      const c = await start();
      proxy.setUpstream(c.port);
      const shutdown = b.kill('SIGTERM');
      await publish(c, 16, 5);
      await recorder.welcomeCount(3);
      expect(await shutdown).toBe(0);
      await publish(c, 21, 5);
      await recorder.eventCount(25);

      expect(recorder.ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(recorder.events.map((e) => e.data.presence)).toEqual(Array.from({ length: 25 }, (_, i) => `p${i + 1}`));
      expect(recorder.resyncs).toEqual([]);
      expect(recorder.errors).toEqual([]);
    } finally {
      recorder.session.close();
      jest.restoreAllMocks();
    }
  });
});
