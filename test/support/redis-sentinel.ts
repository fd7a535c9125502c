import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Redis from 'ioredis';
import { RedisNode, infoField, launchAll, redisCommand, requireRedisTools, waitUntil } from './redis-cluster';

/** A real Sentinel set-up on loopback: one master, one replica, three sentinels. */
export interface TestRedisSentinel {
  /** The name the sentinels monitor the master under. */
  readonly masterName: string;
  /** "127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3", as REDIS_SENTINELS takes them. */
  readonly sentinels: string;
  /** The gateway's environment for this set-up. */
  env(): Record<string, string>;
  readonly controllable: true;
  /** The master's port, as SENTINEL GET-MASTER-ADDR-BY-NAME answers. */
  masterPort(): Promise<number>;
  /** SIGKILLs the current master, as a crash would; returns its port. */
  killMaster(): Promise<number>;
  /** SENTINEL FAILOVER: a planned failover, with the old master still running. */
  failover(): Promise<void>;
  /**
   * Resolves with the new master's port once every live sentinel names a master other than
   * `oldPort`, that master answers ROLE as master and, if the old one still runs (a planned
   * failover), the old one is its replica with the link up. Bounded (30 s).
   */
  waitForNewMaster(oldPort: number): Promise<number>;
  /** Starts a killed data node again as a replica of the current master; resolves once it synced and every sentinel sees it healthy. */
  restart(port: number): Promise<void>;
  /** SIGKILLs the three sentinels (the data nodes keep running). */
  killSentinels(): Promise<void>;
  /** Starts the sentinels again on their rewritten confs; resolves once they know the set-up again. */
  startSentinels(): Promise<void>;
  /** FLUSHALL on the current master. */
  flush(): Promise<void>;
  /** A new ioredis client that finds the master through the sentinels; the caller disconnects it. */
  client(): Redis;
  /** Kills every process and removes their directories. */
  close(): Promise<void>;
}

const MASTER_NAME = 'vora';
const SENTINEL_COUNT = 3;
const READY_TIMEOUT_MS = 15_000;
// A failover right after another one may wait for the failover-timeout of the first (5 s, twice).
const FAILOVER_TIMEOUT_MS = 30_000;

/**
 * A master and its replica (synced before any sentinel starts), then three sentinels started
 * in parallel, each with a writable conf in its own temp dir; resolves once every sentinel
 * lists the replica and knows the two other sentinels, so that a failover can reach a quorum.
 */
export async function startRedisSentinel(): Promise<TestRedisSentinel> {
  requireRedisTools('redis-server');
  return LocalSentinel.start();
}

class LocalSentinel implements TestRedisSentinel {
  readonly masterName = MASTER_NAME;
  readonly controllable = true;

  private constructor(
    private readonly dataNodes: RedisNode[],
    private readonly sentinelNodes: RedisNode[],
  ) {}

  static async start(): Promise<LocalSentinel> {
    const master = await RedisNode.launch('data', dataNodeArgs);
    const nodes: RedisNode[] = [master];
    try {
      const replica = await RedisNode.launch('data', dataNodeArgs, { extraArgs: replicaOf(master.port) });
      nodes.push(replica);
      await waitForLinkUp(replica.port, master.port);
      nodes.push(...(await launchAll(SENTINEL_COUNT, () => RedisNode.launch('sentinel', sentinelArgs(master.port)))));
      const setUp = new LocalSentinel([master, replica], nodes.slice(2));
      await setUp.waitUntilSentinelsKnow(master.port, [replica.port], 'the sentinels knowing the master, its replica and each other');
      return setUp;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.remove()));
      throw error;
    }
  }

  get sentinels(): string {
    return this.sentinelNodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  env(): Record<string, string> {
    return { STORE: 'redis', REDIS_SENTINELS: this.sentinels, REDIS_SENTINEL_MASTER: this.masterName };
  }

  async masterPort(): Promise<number> {
    let failure: unknown = new Error('every sentinel is killed');
    for (const sentinel of this.liveSentinels()) {
      try {
        return await masterPortAccordingTo(sentinel.port);
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  }

  async killMaster(): Promise<number> {
    const port = await this.masterPort();
    await this.dataNode(port).kill();
    return port;
  }

  async failover(): Promise<void> {
    const [sentinel] = this.liveSentinels();
    if (!sentinel) throw new Error('failover(): every sentinel is killed');
    try {
      await redisCommand(sentinel.port, 'SENTINEL', 'FAILOVER', this.masterName);
    } catch (error) {
      throw new Error(`SENTINEL FAILOVER ${this.masterName} refused by 127.0.0.1:${sentinel.port}: ${(error as Error).message}`);
    }
  }

  async waitForNewMaster(oldPort: number): Promise<number> {
    let newPort = 0;
    await waitUntil(`the sentinels naming a master other than ${oldPort}`, FAILOVER_TIMEOUT_MS, async () => {
      const named = new Set<number>();
      for (const sentinel of this.liveSentinels()) named.add(await masterPortAccordingTo(sentinel.port));
      if (named.size === 0) return 'no sentinel runs';
      if (named.size > 1) return `the sentinels disagree: they name ${[...named].join(' and ')}`;
      const [port] = named;
      if (port === oldPort) return `the sentinels still name ${oldPort}`;
      const role = String(((await redisCommand(port, 'ROLE')) as unknown[])[0]);
      if (role !== 'master') return `${port}, named by the sentinels, answers ROLE ${role}`;
      if (this.dataNode(oldPort).running) {
        const replication = String(await redisCommand(oldPort, 'INFO', 'replication'));
        const [oldRole, masterPort, link] = ['role', 'master_port', 'master_link_status'].map((field) => infoField(replication, field));
        if (oldRole !== 'slave' || Number(masterPort) !== port || link !== 'up') {
          return `old master ${oldPort} reports role:${oldRole} master_port:${masterPort} master_link_status:${link}`;
        }
      }
      newPort = port;
      return undefined;
    });
    return newPort;
  }

  async restart(port: number): Promise<void> {
    const node = this.dataNode(port);
    if (node.running) throw new Error(`restart(${port}): that node is running; killMaster() it first`);
    const master = await this.masterPort();
    await node.start(replicaOf(master));
    await waitForLinkUp(port, master);
    await this.waitUntilSentinelsKnow(master, [port], `the sentinels seeing ${port} as a healthy replica again`);
  }

  async killSentinels(): Promise<void> {
    await Promise.all(this.sentinelNodes.map((node) => node.kill()));
  }

  async startSentinels(): Promise<void> {
    // Each sentinel rewrote its conf with what it learnt: the current master, replicas, other sentinels.
    await Promise.all(this.sentinelNodes.map((node) => node.start()));
    const master = await this.masterPort();
    const replicas = this.dataNodes.filter((node) => node.running && node.port !== master).map((node) => node.port);
    await this.waitUntilSentinelsKnow(master, replicas, 'the restarted sentinels knowing the set-up again');
  }

  async flush(): Promise<void> {
    await redisCommand(await this.masterPort(), 'FLUSHALL');
  }

  client(): Redis {
    return new Redis({
      sentinels: this.sentinelNodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      name: this.masterName,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.sentinelNodes, ...this.dataNodes].map((node) => node.remove()));
  }

  /**
   * Every live sentinel names `master`, lists each of `replicas` as a replica it reaches with
   * its link to the master up (else it would pick no replica for a failover), and knows the
   * other sentinels (hello messages, every 2 s, make them known; a failover makes each
   * sentinel forget them, and finding them again takes about 5 s).
   */
  private async waitUntilSentinelsKnow(master: number, replicas: number[], what: string): Promise<void> {
    await waitUntil(what, READY_TIMEOUT_MS, async () => {
      for (const sentinel of this.liveSentinels()) {
        const at = `sentinel 127.0.0.1:${sentinel.port}`;
        const named = await masterPortAccordingTo(sentinel.port);
        if (named !== master) return `${at} names master ${named}, not ${master}`;
        const listed = await sentinelTable(sentinel.port, 'REPLICAS', this.masterName);
        for (const port of replicas) {
          const entry = listed.find((replica) => Number(replica.port) === port);
          if (!entry) return `${at} does not list replica ${port}`;
          if (entry.flags !== 'slave' || entry['master-link-status'] !== 'ok') {
            return `${at} lists replica ${port} with flags ${entry.flags}, master-link-status ${entry['master-link-status']}`;
          }
        }
        const peers = (await sentinelTable(sentinel.port, 'SENTINELS', this.masterName)).filter((peer) => peer.flags === 'sentinel');
        if (peers.length !== SENTINEL_COUNT - 1) return `${at} reaches ${peers.length} other sentinels, not ${SENTINEL_COUNT - 1}`;
      }
      return undefined;
    });
  }

  private liveSentinels(): RedisNode[] {
    return this.sentinelNodes.filter((node) => node.running);
  }

  private dataNode(port: number): RedisNode {
    const node = this.dataNodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no data node of this set-up listens on port ${port}`);
    return node;
  }
}

const dataNodeArgs = ([port]: number[], dir: string): string[] => [
  '--port', String(port),
  '--bind', '127.0.0.1',
  '--save', '',
  '--appendonly', 'no',
  // The default 5 s delay before a diskless full sync would dominate start-up and restarts.
  '--repl-diskless-sync-delay', '0',
  '--loglevel', 'warning',
  '--dir', dir,
];

const replicaOf = (masterPort: number): string[] => ['--replicaof', '127.0.0.1', String(masterPort)];

/** Writes the sentinel's conf into its dir: sentinels rewrite it with what they learn. */
const sentinelArgs =
  (masterPort: number) =>
  async ([port]: number[], dir: string): Promise<string[]> => {
    const conf = join(dir, 'sentinel.conf');
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'loglevel warning',
      // Before `monitor`: addresses stay as written, with no DNS look-ups.
      'sentinel resolve-hostnames no',
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 5000`,
    ];
    await writeFile(conf, `${lines.join('\n')}\n`);
    return [conf, '--sentinel'];
  };

async function masterPortAccordingTo(sentinelPort: number): Promise<number> {
  const address = (await redisCommand(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as string[] | null;
  if (!address) throw new Error(`sentinel 127.0.0.1:${sentinelPort} does not know master ${MASTER_NAME}`);
  return Number(address[1]);
}

/** SENTINEL REPLICAS|SENTINELS <name>: one flat [field, value, ...] array per entry. */
async function sentinelTable(sentinelPort: number, table: 'REPLICAS' | 'SENTINELS', name: string): Promise<Array<Record<string, string>>> {
  const entries = (await redisCommand(sentinelPort, 'SENTINEL', table, name)) as string[][];
  return entries.map((fields) => {
    const entry: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i]] = fields[i + 1];
    return entry;
  });
}

async function waitForLinkUp(replicaPort: number, masterPort: number): Promise<void> {
  await waitUntil(`replica ${replicaPort} syncing with master ${masterPort}`, READY_TIMEOUT_MS, async () => {
    const replication = String(await redisCommand(replicaPort, 'INFO', 'replication'));
    const link = infoField(replication, 'master_link_status');
    const following = Number(infoField(replication, 'master_port'));
    if (following !== masterPort || link !== 'up') return `it reports master_port:${following} master_link_status:${link}`;
    return undefined;
  });
}
