import Redis from 'ioredis';
import { INGRESS_GROUP, INGRESS_LEASE, INGRESS_STREAM } from '../src/events/ingress-stream';
import { ALICE, BOB } from './support/fixtures';
import { eventually, expectError, faultTestsUnsupported, GatewayProcess, http, TestSocket, useIssuer, useRedis } from './support/harness';

/**
 * Two gateway processes on one Redis, as behind a load balancer without
 * sticky sessions (SPEC section 9, issue 4).
 */
describe('many instances on Redis', () => {
  let a: GatewayProcess;
  let b: GatewayProcess;
  // Declared first, so that the instances stop before the Redis and the issuer.
  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
  });
  const redis = useRedis();
  const issuer = useIssuer();
  let alice: string;
  let bob: string;
  let core: string;

  const start = () =>
    GatewayProcess.start({ ...issuer.env(), STORE: 'redis', REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '500' });

  const setup = async (gateway: GatewayProcess, token: string, identity: string): Promise<string> => {
    const result = await http(`${gateway.url}/identity/setup`, { token, body: { connectionType: 'WEB', identity } });
    expect(result.status).toBe(200);
    return result.body.webSocketToken;
  };

  const post = async (gateway: GatewayProcess, events: unknown) => {
    const result = await http(`${gateway.url}/events`, { token: core, body: events });
    expect(result.status).toBe(202);
  };

  const seqEvents = (identity: string, from: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ event: 'PresenceChanged', identity, data: { seq: from + i } }));

  beforeAll(async () => {
    [a, b] = await Promise.all([start(), start()]);
    alice = await issuer.sign({ sub: 'alice', scope: 'vora:user', expiresInS: 3600 });
    bob = await issuer.sign({ sub: 'bob', scope: 'vora:user', expiresInS: 3600 });
    core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish', expiresInS: 3600 });
  });

  it('serves a session set up on A through a socket on B, with no sticky sessions', async () => {
    const token = await setup(a, alice, ALICE);
    const { socket, welcome } = await TestSocket.connect(b.wsUrl, { token });
    expect(welcome).toMatchObject({ identity: ALICE, lastEventId: '0', recovered: true });

    await post(a, { event: 'CallDelivered', identity: ALICE, data: { callId: 'x-1', direction: 'terminating' } });
    expect(await socket.next()).toMatchObject({ type: 'event', id: '1', event: 'CallDelivered', data: { callId: 'x-1' } });

    // A subscription change made through A applies to the socket on B at once.
    const changed = await http(`${a.url}/identity/${encodeURIComponent(ALICE)}/eventSubscription`, {
      token: alice,
      body: { subscribeAll: false, events: ['CallCleared'] },
    });
    expect(changed.status).toBe(200);
    await post(a, [
      { event: 'CallDelivered', identity: ALICE, data: { callId: 'x-2' } },
      { event: 'CallCleared', identity: ALICE, data: { callId: 'x-2' } },
    ]);
    expect(await socket.next()).toMatchObject({ id: '2', event: 'CallCleared' });

    // A logout through A closes the socket on B with 4000.
    expect((await http(`${a.url}/logout/${encodeURIComponent(ALICE)}`, { token: alice, method: 'POST' })).status).toBe(200);
    expect((await socket.closed()).code).toBe(4000);
    expect((await TestSocket.refused(b.wsUrl, { token })).status).toBe(401);
  });

  it('lets a client resume on B, event by event, after A is killed with SIGKILL', async () => {
    const victim = await start();
    try {
      const token = await setup(victim, bob, BOB);
      const first = await TestSocket.connect(victim.wsUrl, { token });
      const total = 300;
      const seen: any[] = [];

      // The platform keeps publishing through B while A dies.
      const publishing = (async () => {
        for (let seq = 0; seq < total; seq += 10) {
          await post(b, seqEvents(BOB, seq, 10));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();

      while (seen.length < 60) seen.push(...(await first.socket.events(1)));
      await victim.kill('SIGKILL');
      await first.socket.closed();

      const lastEventId = seen[seen.length - 1].id;
      const second = await TestSocket.connect(b.wsUrl, { token, lastEventId });
      expect(second.welcome.recovered).toBe(true);
      await publishing;
      while (seen.length < total) seen.push(...(await second.socket.events(1)));

      expect(seen.map((event) => event.data.seq)).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(seen.map((event) => event.id)).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));
      // Exactly once: the next event is a sentinel published after all of them.
      await post(b, { event: 'PresenceChanged', identity: BOB, data: { sentinel: true } });
      expect(await second.socket.nextEvent()).toMatchObject({ id: String(total + 1), data: { sentinel: true } });
      await second.socket.close();
    } finally {
      await victim.kill();
    }
  });

  it('routes each vora:ingress entry exactly once, in order, and claims what a dead consumer left pending', async () => {
    const client = new Redis(redis.url);
    // The lease may still name an instance an earlier test killed; wait for a live holder.
    const reader = await eventually(
      async () => {
        const holder = await client.get(INGRESS_LEASE);
        const live = [a, b].find((g) => holder?.includes(`-${g.child.pid}-`));
        if (!live) throw new Error(`the ingress lease is held by ${holder}`);
        return live;
      },
      { timeoutMs: 15_000 },
    );
    const survivor = reader === a ? b : a;
    // The client sits on the instance that will survive the reader.
    const token = await setup(reader, bob, BOB);
    const { socket } = await TestSocket.connect(survivor.wsUrl, { token });
    try {
      const xadd = (seq: number) =>
        client.xadd(INGRESS_STREAM, '*', 'event', 'PresenceChanged', 'identity', BOB, 'data', JSON.stringify({ seq }));
      for (let seq = 0; seq < 100; seq++) await xadd(seq);
      const firstHundred = await socket.events(100);
      expect(firstHundred.map((e) => e.data.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));

      // Freeze the reader, let a consumer take entries and die without acknowledging them,
      // then kill the frozen reader too: the surviving instance must route all of them.
      // Wherever it is frozen, even between routing a batch and acknowledging it, nothing is sent twice.
      reader.child.kill('SIGSTOP');
      for (let seq = 100; seq < 110; seq++) await xadd(seq);
      const taken = await client.xreadgroup('GROUP', INGRESS_GROUP, 'ghost', 'COUNT', 5, 'STREAMS', INGRESS_STREAM, '>');
      expect((taken as any)[0][1]).toHaveLength(5);
      await reader.kill('SIGKILL');

      const rest = await socket.events(10, 30_000).catch((error: Error) => {
        const relevant = survivor.output.join('').split('\n').filter((line) => /IngressStream|Redis/.test(line));
        throw new Error(`${error.message}\nsurvivor log:\n${relevant.join('\n')}`);
      });
      expect(rest.map((e) => e.data.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
      // Exactly once, even for the entries the dead consumer had taken: the next event is a sentinel added after them.
      await client.xadd(INGRESS_STREAM, '*', 'event', 'PresenceChanged', 'identity', BOB, 'data', JSON.stringify({ sentinel: true }));
      expect(await socket.nextEvent(30_000)).toMatchObject({ id: '111', data: { sentinel: true } });
      await eventually(async () => expect((await client.xpending(INGRESS_STREAM, INGRESS_GROUP))[0]).toBe(0));
      if (reader === a) a = await start();
      else b = await start();
    } finally {
      client.disconnect();
      await socket.close();
    }
  });

  it('stays up while Redis is down and recovers when it returns, keeping open sockets', async () => {
    const unsupported = faultTestsUnsupported(redis);
    if (unsupported) return console.warn(unsupported);
    const token = await setup(a, alice, ALICE);
    const { socket } = await TestSocket.connect(b.wsUrl, { token });

    await redis.stop();
    expect((await http(`${a.url}/health/liveness`)).status).toBe(204);
    await eventually(async () => expectError(await http(`${b.url}/health/readiness`), 503, /store/), { timeoutMs: 10_000 });
    expectError(
      await http(`${a.url}/identity/setup`, { token: alice, body: { connectionType: 'DESKTOP', identity: ALICE } }),
      503,
    );

    await redis.start();
    await eventually(async () => expect((await http(`${a.url}/health/readiness`)).status).toBe(204), { timeoutMs: 20_000 });
    await eventually(async () => expect((await http(`${b.url}/health/readiness`)).status).toBe(204), { timeoutMs: 20_000 });

    // The socket that stayed open keeps working once the instances have restored their sessions.
    await eventually(
      async () => {
        await post(a, { event: 'VoicemailWaiting', identity: ALICE, data: { count: 1 } });
        expect(await socket.nextMatching((m) => m.type === 'event' && m.event === 'VoicemailWaiting', 1_000)).toBeDefined();
      },
      { timeoutMs: 15_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nA:\n${a.output.join('').slice(-2500)}\nB:\n${b.output.join('').slice(-2500)}`);
    });
    expect(socket.isClosed).toBe(false);
    await socket.close();
  });
});
