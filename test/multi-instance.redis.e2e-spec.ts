import { INGRESS_GROUP, INGRESS_LEASE, INGRESS_STREAM } from '../src/events/ingress-stream';
import { deliveriesChannel } from '../src/events/redis-delivery-bus';
import { ALICE, BOB } from './support/fixtures';
import {
  eventually,
  expectError,
  faultTestsUnsupported,
  GatewayProcess,
  http,
  REDIS_TOPOLOGIES,
  TestSocket,
  useIssuer,
  useRedis,
  useRedisCluster,
  useRedisSentinel,
} from './support/harness';

/**
 * Gateway processes on one Redis, on a Redis Cluster and on a Sentinel
 * set-up, as behind a load balancer without sticky sessions (SPEC sections 9
 * and 10): the same promises on each, and each one's own fault survived.
 */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(REDIS_TOPOLOGIES)('many instances on %s', (topology) => {
  let a: GatewayProcess;
  let b: GatewayProcess;
  // Declared first, so that the instances stop before the Redis and the issuer.
  afterAll(async () => {
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
  });
  const redis = topology === 'redis' ? useRedis() : undefined;
  const cluster = topology === 'redis cluster' ? useRedisCluster() : undefined;
  const sentinel = topology === 'redis sentinel' ? useRedisSentinel() : undefined;
  const store = (redis ?? cluster ?? sentinel)!;
  const issuer = useIssuer();
  let alice: string;
  let bob: string;
  let core: string;

  const start = () => GatewayProcess.start({ ...issuer.env(), ...store.env(), HEARTBEAT_INTERVAL_MS: '500' });

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
    const client = store.client();
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

  if (redis) it('stays up while Redis is down and recovers when it returns, keeping open sockets', async () => {
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

  /** Samples readiness of `gateway` until `until` settles: the distinct answers it gave, as `<status> <message>`. */
  const readinessDuring = async (gateway: GatewayProcess, until: Promise<unknown>): Promise<string[]> => {
    let over = false;
    void until.finally(() => (over = true)).catch(() => undefined);
    const seen = new Set<string>();
    while (!over) {
      const result = await http(`${gateway.url}/health/readiness`);
      seen.add(`${result.status}${result.status === 204 ? '' : ` ${result.body?.message}`}`);
      await pause(100);
    }
    return [...seen];
  };

  /**
   * Posts events for ALICE one at a time through `gateway`, from `seq` on,
   * until `recovered` has resolved and 20 more were answered 202 after it.
   * Each answer is 202 or 503 (the store unavailable), nothing else.
   */
  const publishAcross = async (gateway: GatewayProcess, seq: number, recovered: Promise<unknown>) => {
    let over = false;
    void recovered.then(() => (over = true));
    const accepted: number[] = [];
    const acceptedAfter: number[] = [];
    const deadline = Date.now() + 60_000;
    for (; acceptedAfter.length < 20; seq++) {
      if (Date.now() > deadline) throw new Error(`${acceptedAfter.length} of 20 events accepted after the failover within 60 s`);
      const afterRecovery = over;
      const result = await http(`${gateway.url}/events`, { token: core, body: seqEvents(ALICE, seq, 1) });
      expect([202, 503]).toContain(result.status);
      if (result.status === 202) {
        accepted.push(seq);
        if (afterRecovery) acceptedAfter.push(seq);
      } else {
        await pause(50);
      }
    }
    return { accepted, acceptedAfter, next: seq };
  };

  /** The gateways' own account of a failure: their last log lines but routine ones. */
  const gatewayLogs = () => {
    const logs = (gateway: GatewayProcess) =>
      gateway.output
        .join('')
        .split('\n')
        .filter((line) => !/InstanceLoader|RoutesResolver|RouterExplorer|request completed|heartbeat could not/.test(line))
        .slice(-25)
        .join('\n');
    return `A:\n${logs(a)}\nB:\n${logs(b)}`;
  };

  /** Reads `socket` until it has `last`: every event in order, none twice, none answered 202 missing. */
  const expectDelivered = async (socket: TestSocket, accepted: number[]) => {
    const seen: number[] = [];
    const last = accepted[accepted.length - 1];
    while (seen[seen.length - 1] !== last) {
      const [event] = await socket.events(1, 20_000).catch((error: Error) => {
        throw new Error(`${error.message}\naccepted: ${accepted.join(' ')}\n${gatewayLogs()}`);
      });
      seen.push(event.data.seq);
      if (event.data.seq > last) break;
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
    const missing = accepted.filter((seq) => !seen.includes(seq));
    if (missing.length) throw new Error(`answered 202 but not delivered: ${missing.join(' ')}\n${gatewayLogs()}`);
  };

  const metric = async (gateway: GatewayProcess, name: string): Promise<number> => {
    const text: string = (await http(`${gateway.url}/metrics`)).body;
    return text
      .split('\n')
      .filter((line) => line.startsWith(name))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  };

  /** Alice's session set up through A, its socket on B, with every event so far delivered. */
  const aliceOnB = async () => {
    const token = await setup(a, alice, ALICE);
    const { socket, welcome } = await TestSocket.connect(b.wsUrl, { token });
    return { socket, sessionId: welcome.sessionId as string };
  };

  /** The id `gateway` has in the registry of instances (it carries the process id). */
  const instanceIdOf = async (gateway: GatewayProcess): Promise<string> => {
    const client = store.client();
    try {
      const id = (await client.zrange('vora:instances', 0, -1)).find((member) => member.includes(`-${gateway.child.pid}-`));
      if (!id) throw new Error(`pid ${gateway.child.pid} is not in vora:instances`);
      return id;
    } finally {
      client.disconnect();
    }
  };

  /** Five events, all delivered before a fault, so that what follows is about the fault alone. */
  const settledBefore = async (socket: TestSocket, seq: number): Promise<number> => {
    await post(a, seqEvents(ALICE, seq, 5));
    expect((await socket.events(5)).map((e) => e.data.seq)).toEqual([seq, seq + 1, seq + 2, seq + 3, seq + 4]);
    return seq + 5;
  };

  if (cluster) {
    it('survives the SIGKILL of a master while events flow: readiness names it, the replica takes over, and every event answered 202 after that is delivered to the socket that stayed open', async () => {
      const { socket, sessionId } = await aliceOnB();
      const bId = await instanceIdOf(b);
      const failoversBefore = await metric(b, 'vora_redis_failovers_total');
      let seq = 0;
      // The master of the session's buffer, then the master of the channel B hears its deliveries on (sharded pub/sub).
      for (const key of [`vora:{s:${sessionId}}:events`, deliveriesChannel(bId)]) {
        seq = await settledBefore(socket, seq);
        const master = await cluster.masterOfKey(key);
        await cluster.kill(master);
        const failedOver = cluster.waitForFailover(master);
        const [readiness, { accepted, next }] = await Promise.all([readinessDuring(b, failedOver), publishAcross(a, seq, failedOver)]);
        seq = next;
        expect(readiness).toContainEqual(expect.stringMatching(new RegExp(`^503 not ready: store \\(master 127\\.0\\.0\\.1:${master} does not answer|^503 not ready: store \\(.*(slots|cluster state)`)));
        await expectDelivered(socket, accepted);
        await cluster.restart(master);
      }
      expect(socket.isClosed).toBe(false);
      await eventually(async () => expect((await http(`${b.url}/health/readiness`)).status).toBe(204));
      await eventually(async () => expect(await metric(b, 'vora_redis_failovers_total')).toBeGreaterThanOrEqual(failoversBefore + 2));
      expect(await metric(b, 'vora_redis_reconnects_total')).toBeGreaterThan(0);
      await socket.close();
    });

    it('follows a resharding while events flow: the slots of the session\'s buffer and of the holder\'s delivery channel move to another master, and every event answered 202 is delivered', async () => {
      const { socket, sessionId } = await aliceOnB();
      const bId = await instanceIdOf(b);
      const redirectsBefore = await metric(a, 'vora_redis_redirects_total');
      let seq = await settledBefore(socket, 100_000);
      for (const key of [`vora:{s:${sessionId}}:events`, deliveriesChannel(bId)]) {
        const moved = cluster.moveSlotOf(key);
        const run = await publishAcross(a, seq, moved);
        seq = run.next;
        await expectDelivered(socket, run.accepted);
      }
      expect(socket.isClosed).toBe(false);
      expect(await metric(a, 'vora_redis_redirects_total')).toBeGreaterThan(redirectsBefore);
      await socket.close();
    });
  }

  if (sentinel) {
    it('survives a SIGKILLed master and a planned SENTINEL FAILOVER while events flow: every event answered 202 after the new master is up is delivered to the socket that stayed open', async () => {
      const { socket } = await aliceOnB();
      const failoversBefore = await metric(b, 'vora_redis_failovers_total');
      let seq = await settledBefore(socket, 0);

      const killed = await sentinel.killMaster();
      const promoted = sentinel.waitForNewMaster(killed);
      let run = await publishAcross(a, seq, promoted);
      await expectDelivered(socket, run.accepted);
      await sentinel.restart(killed);

      // A planned failover leaves the old master taking writes until the sentinels announce the new one
      // (about a second here): what it took then is lost with it. Everything after is delivered.
      seq = await settledBefore(socket, run.next);
      const before = await sentinel.masterPort();
      await sentinel.failover();
      run = await publishAcross(a, seq, sentinel.waitForNewMaster(before));
      await expectDelivered(socket, run.acceptedAfter);

      expect(socket.isClosed).toBe(false);
      await eventually(async () => expect(await metric(b, 'vora_redis_failovers_total')).toBeGreaterThanOrEqual(failoversBefore + 2));
      await socket.close();
    });

    it('is not ready while no sentinel answers, and says so', async () => {
      await sentinel.killSentinels();
      try {
        await eventually(async () =>
          expectError(await http(`${a.url}/health/readiness`), 503, /^not ready: store \(no Sentinel answers \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)\)$/),
        );
      } finally {
        await sentinel.startSentinels();
      }
      await eventually(async () => expect((await http(`${a.url}/health/readiness`)).status).toBe(204));
    });
  }
});
