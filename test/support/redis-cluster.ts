import { ChildProcess, execFile, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { eventually } from './eventually';
import { freePort } from './free-port';
import { killAndWait, spawnRedisServer } from './redis-server';

/** A real Redis Cluster on loopback: three masters with one replica each. */
export interface TestRedisCluster {
  /** "127.0.0.1:p1,...,127.0.0.1:p6", every node, as REDIS_CLUSTER_NODES takes them. */
  readonly seeds: string;
  /** The gateway's environment for this cluster. */
  env(): Record<string, string>;
  readonly controllable: true;
  /** Each master with the slot ranges it serves, as CLUSTER SLOTS of a live node says. */
  masters(): Promise<Array<{ port: number; slots: Array<[number, number]> }>>;
  /** The port of the master serving the slot of `key`. */
  masterOfKey(key: string): Promise<number>;
  /** SIGKILLs the node, as a crash would, and waits until it has exited. */
  kill(port: number): Promise<void>;
  /**
   * After kill(oldMasterPort): resolves once every live node's CLUSTER SLOTS names another
   * master, one that answers as master, for every slot, and every live node reports
   * cluster_state:ok. Bounded (20 s).
   */
  waitForFailover(oldMasterPort: number): Promise<void>;
  /** Starts a killed node again on its port and nodes.conf; resolves once it has rejoined as a synced replica. */
  restart(port: number): Promise<void>;
  /** FLUSHALL on every live master. */
  flush(): Promise<void>;
  /** A new ioredis Cluster client on the seeds; the caller disconnects it. */
  client(): Cluster;
  /**
   * Moves the slot of `key` to another master, as a resharding does: the slot
   * marked importing and migrating, its keys moved with MIGRATE (clients get
   * ASK meanwhile), then given to the new master on every master (MOVED from
   * then on). Resolves with the port of the new master.
   */
  moveSlotOf(key: string): Promise<number>;
  /** Every node's port and redis-server process id, for figures taken from the outside (CPU, INFO). */
  nodes(): Array<{ port: number; pid?: number }>;
  /** Kills every node and removes their directories. */
  close(): Promise<void>;
}

const NODE_COUNT = 6;
const MASTER_COUNT = 3;
const SLOT_COUNT = 16384;
const READY_TIMEOUT_MS = 15_000;
const FAILOVER_TIMEOUT_MS = 20_000;
const CREATE_TIMEOUT_MS = 20_000;

/**
 * Six redis-server processes on free loopback ports, each in its own temp dir with no
 * persistence, joined by `redis-cli --cluster create` and awaited until every slot is
 * served and every replica has synced (a replica that never synced refuses to take over).
 */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  requireRedisTools('redis-server', 'redis-cli');
  return LocalCluster.start();
}

class LocalCluster implements TestRedisCluster {
  readonly controllable = true;
  /** The slots each killed master served, so that waitForFailover knows one was killed. */
  private readonly servedWhenKilled = new Map<number, Array<[number, number]>>();

  private constructor(private readonly members: RedisNode[]) {}

  nodes(): Array<{ port: number; pid?: number }> {
    return this.members.map((node) => ({ port: node.port, pid: node.pid }));
  }

  static async start(): Promise<LocalCluster> {
    const cluster = new LocalCluster(await launchAll(NODE_COUNT, () => RedisNode.launch('cluster', clusterNodeArgs, { ports: 2 })));
    try {
      await cluster.create();
      await cluster.waitUntilSettled('the new cluster: all slots served, every replica synced');
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  get seeds(): string {
    return this.members.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  env(): Record<string, string> {
    return { STORE: 'redis', REDIS_CLUSTER_NODES: this.seeds };
  }

  async masters(): Promise<Array<{ port: number; slots: Array<[number, number]> }>> {
    const byMaster = new Map<number, Array<[number, number]>>();
    for (const range of await this.fromAnyLiveNode(clusterSlots)) {
      const slots = byMaster.get(range.master) ?? [];
      slots.push([range.from, range.to]);
      byMaster.set(range.master, slots);
    }
    return [...byMaster].map(([port, slots]) => ({ port, slots: slots.sort((a, b) => a[0] - b[0]) }));
  }

  async masterOfKey(key: string): Promise<number> {
    return this.fromAnyLiveNode(async (port) => {
      const slot = Number(await redisCommand(port, 'CLUSTER', 'KEYSLOT', key));
      const range = (await clusterSlots(port)).find((r) => r.from <= slot && slot <= r.to);
      if (!range) throw new Error(`no master serves slot ${slot} (key ${key}) according to 127.0.0.1:${port}`);
      return range.master;
    });
  }

  async moveSlotOf(key: string): Promise<number> {
    const from = await this.masterOfKey(key);
    const masters = (await this.masters()).map((master) => master.port);
    const to = masters.find((port) => port !== from)!;
    const slot = Number(await redisCommand(from, 'CLUSTER', 'KEYSLOT', key));
    const [fromId, toId] = await Promise.all([redisCommand(from, 'CLUSTER', 'MYID'), redisCommand(to, 'CLUSTER', 'MYID')]);
    await redisCommand(to, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', String(fromId));
    await redisCommand(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', String(toId));
    for (;;) {
      const keys = (await redisCommand(from, 'CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (!keys.length) break;
      await redisCommand(from, 'MIGRATE', '127.0.0.1', to, '', 0, 5000, 'KEYS', ...keys);
    }
    // The new owner first, then the old one, then the rest: the order redis-cli --cluster uses.
    for (const port of [to, from, ...masters.filter((p) => p !== to && p !== from)]) {
      await redisCommand(port, 'CLUSTER', 'SETSLOT', slot, 'NODE', String(toId));
    }
    return to;
  }

  async kill(port: number): Promise<void> {
    const node = this.node(port);
    if (!node.running) return;
    const served = (await this.masters()).find((master) => master.port === port);
    if (served) this.servedWhenKilled.set(port, served.slots);
    await node.kill();
  }

  async waitForFailover(oldMasterPort: number): Promise<void> {
    const served = this.servedWhenKilled.get(oldMasterPort);
    if (!served) throw new Error(`waitForFailover(${oldMasterPort}): that node was not a master killed with kill()`);
    const slots = served.map(([from, to]) => `${from}-${to}`).join(',');
    await waitUntil(`a replica taking over slots ${slots} of killed master ${oldMasterPort}`, FAILOVER_TIMEOUT_MS, async () => {
      const answering = new Set<number>();
      for (const node of this.liveNodes()) {
        const state = infoField(await redisCommand(node.port, 'CLUSTER', 'INFO'), 'cluster_state');
        if (state !== 'ok') return `127.0.0.1:${node.port} reports cluster_state:${state}`;
        const ranges = await clusterSlots(node.port);
        const stale = ranges.find((range) => range.master === oldMasterPort);
        if (stale) return `127.0.0.1:${node.port} still names ${oldMasterPort} as master of slots ${stale.from}-${stale.to}`;
        const uncovered = uncoveredSlots(ranges);
        if (uncovered) return `127.0.0.1:${node.port} names no master for ${uncovered} slots`;
        for (const master of new Set(ranges.map((range) => range.master))) {
          if (answering.has(master)) continue;
          const role = await this.roleOf(master);
          if (role !== 'master') return `127.0.0.1:${node.port} names ${master} as a master, which answers ROLE ${role}`;
          answering.add(master);
        }
      }
      return undefined;
    });
  }

  async restart(port: number): Promise<void> {
    const node = this.node(port);
    if (node.running) throw new Error(`restart(${port}): that node is running; kill() it first`);
    await node.start();
    this.servedWhenKilled.delete(port);
    await this.waitUntilSettled(`node ${port} rejoining the cluster as a synced replica`);
  }

  async flush(): Promise<void> {
    await Promise.all((await this.masters()).map((master) => redisCommand(master.port, 'FLUSHALL')));
  }

  client(): Cluster {
    return new Cluster(this.members.map((node) => ({ host: '127.0.0.1', port: node.port })));
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((node) => node.remove()));
  }

  private async create(): Promise<void> {
    const addresses = this.members.map((node) => `127.0.0.1:${node.port}`);
    const args = ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'];
    await new Promise<void>((resolve, reject) =>
      execFile('redis-cli', args, { timeout: CREATE_TIMEOUT_MS }, (error, stdout, stderr) =>
        error ? reject(new Error(`redis-cli --cluster create failed (${error.message}):\n${stdout}${stderr}`)) : resolve(),
      ),
    );
  }

  /**
   * Every live node reports cluster_state:ok, every live replica has its link up, and every
   * live node's CLUSTER SLOTS covers all slots with three answering masters and names every
   * live node (gossip spreads the roles a moment after the nodes agree on the slots).
   */
  private async waitUntilSettled(what: string): Promise<void> {
    await waitUntil(what, READY_TIMEOUT_MS, async () => {
      const live = this.liveNodes();
      for (const node of live) {
        const state = infoField(await redisCommand(node.port, 'CLUSTER', 'INFO'), 'cluster_state');
        if (state !== 'ok') return `127.0.0.1:${node.port} reports cluster_state:${state}`;
        const replication = String(await redisCommand(node.port, 'INFO', 'replication'));
        const link = infoField(replication, 'master_link_status');
        if (infoField(replication, 'role') === 'slave' && link !== 'up') {
          return `replica 127.0.0.1:${node.port} reports master_link_status:${link}`;
        }
      }
      for (const node of live) {
        const ranges = await clusterSlots(node.port);
        const uncovered = uncoveredSlots(ranges);
        if (uncovered) return `127.0.0.1:${node.port} names no master for ${uncovered} slots`;
        const replicasOf = new Map<number, Set<number>>();
        for (const range of ranges) replicasOf.set(range.master, new Set([...(replicasOf.get(range.master) ?? []), ...range.replicas]));
        if (replicasOf.size !== MASTER_COUNT) return `127.0.0.1:${node.port} names ${replicasOf.size} masters, not ${MASTER_COUNT}`;
        const named = new Set([...replicasOf].flatMap(([master, replicas]) => [master, ...replicas]));
        const unnamed = live.find((other) => !named.has(other.port));
        if (unnamed) return `127.0.0.1:${node.port} does not name ${unnamed.port} in CLUSTER SLOTS yet`;
        const deadMaster = [...replicasOf.keys()].find((master) => !this.node(master).running);
        if (deadMaster) return `127.0.0.1:${node.port} names killed node ${deadMaster} as a master`;
        if (live.length === NODE_COUNT) {
          const uneven = [...replicasOf].find(([, replicas]) => replicas.size !== 1);
          if (uneven) return `127.0.0.1:${node.port} gives master ${uneven[0]} ${uneven[1].size} replicas, not 1`;
        }
      }
      return undefined;
    });
  }

  private async roleOf(port: number): Promise<string> {
    if (!this.members.some((node) => node.port === port && node.running)) return 'none (killed)';
    try {
      return String(((await redisCommand(port, 'ROLE')) as unknown[])[0]);
    } catch (error) {
      return `none (${(error as Error).message})`;
    }
  }

  private liveNodes(): RedisNode[] {
    return this.members.filter((node) => node.running);
  }

  private node(port: number): RedisNode {
    const node = this.members.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on port ${port} (seeds ${this.seeds})`);
    return node;
  }

  private async fromAnyLiveNode<T>(ask: (port: number) => Promise<T>): Promise<T> {
    let failure: unknown = new Error('every node of the cluster is killed');
    for (const node of this.liveNodes()) {
      try {
        return await ask(node.port);
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  }
}

const clusterNodeArgs = ([port, busPort]: number[], dir: string): string[] => [
  '--port', String(port),
  // Free ports come from the ephemeral range, where the default bus port (port + 10000) may be past 65535.
  '--cluster-port', String(busPort),
  '--cluster-enabled', 'yes',
  '--cluster-config-file', join(dir, 'nodes.conf'),
  '--cluster-node-timeout', '2000',
  // A freshly created replica may take over even if its master died before they talked for long.
  '--cluster-replica-validity-factor', '0',
  '--save', '',
  '--appendonly', 'no',
  // The default 5 s delay before a diskless full sync would dominate start-up and rejoins.
  '--repl-diskless-sync-delay', '0',
  // CLUSTER SLOTS names a replica only once its replication offset is past 0; with no writes
  // that waits for the master's first replication ping (every 10 s by default).
  '--repl-ping-replica-period', '1',
  '--bind', '127.0.0.1',
  '--loglevel', 'warning',
  '--dir', dir,
];

interface SlotRange {
  from: number;
  to: number;
  master: number;
  replicas: number[];
}

async function clusterSlots(port: number): Promise<SlotRange[]> {
  // Each entry: [from, to, [ip, port, id, ...] of the master, then one such array per replica].
  const reply = (await redisCommand(port, 'CLUSTER', 'SLOTS')) as unknown[][];
  const portOf = (node: unknown): number => Number((node as unknown[])[1]);
  return reply.map(([from, to, master, ...replicas]) => ({
    from: Number(from),
    to: Number(to),
    master: portOf(master),
    replicas: replicas.map(portOf),
  }));
}

/** How many slots no range covers (0 when all are served). */
function uncoveredSlots(ranges: SlotRange[]): number {
  return SLOT_COUNT - ranges.reduce((sum, range) => sum + range.to - range.from + 1, 0);
}

// ---------------------------------------------------------------------------------------
// Pieces shared with redis-sentinel.ts: one redis-server process of a topology, the tools
// check, one-off commands and bounded waits.

const PACKAGE_OF = { 'redis-server': 'redis-server', 'redis-cli': 'redis-tools' } as const;

/** Throws, naming the Debian package to install, when one of the tools is not on PATH. */
export function requireRedisTools(...tools: Array<keyof typeof PACKAGE_OF>): void {
  for (const tool of tools) {
    const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) {
      throw new Error(`these tests start their own Redis topology and need ${tool}: install it (\`apt-get install ${PACKAGE_OF[tool]}\`)`);
    }
  }
}

const tempDirs = new Set<string>();

/** A redis-server (data node or sentinel) with its own port(s) and temp dir, killed and started again at will. */
export class RedisNode {
  private process?: ChildProcess;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  /**
   * Starts a node on `ports` free ports (the first is its port) in a new temp dir; `argsFor`
   * builds its arguments (and may write a conf into the dir). Another process may take a free
   * port before the bind, and parallel launches may draw the same one: try a few times.
   */
  static async launch(
    label: string,
    argsFor: (ports: number[], dir: string) => string[] | Promise<string[]>,
    { ports = 1, extraArgs = [] as string[] } = {},
  ): Promise<RedisNode> {
    for (let attempt = 1; ; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), `vora-redis-${label}-`));
      removeOnExit(dir);
      const chosen = await distinctFreePorts(ports);
      const node = new RedisNode(chosen[0], dir, await argsFor(chosen, dir));
      try {
        await node.start(extraArgs);
        return node;
      } catch (error) {
        await node.remove();
        if (attempt === 3) throw error;
      }
    }
  }

  /** The redis-server process while it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  /** Starts the process (again) with its arguments and `extraArgs`, and waits until it answers PING. */
  async start(extraArgs: string[] = []): Promise<void> {
    if (this.process) return;
    this.process = await spawnRedisServer(this.port, [...this.args, ...extraArgs], (child) => {
      if (this.process === child) this.process = undefined;
    });
  }

  /** SIGKILL, as a crash would; resolves once the process has exited. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    await killAndWait(child);
  }

  async remove(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
    tempDirs.delete(this.dir);
  }
}

/** Launches `count` nodes in parallel; if one fails, the others are removed and the failure thrown. */
export async function launchAll(count: number, launch: () => Promise<RedisNode>): Promise<RedisNode[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, launch));
  const nodes = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (!failed) return nodes;
  await Promise.all(nodes.map((node) => node.remove()));
  throw failed.reason;
}

/** A run that dies without close() must not leave its directories behind either. */
function removeOnExit(dir: string): void {
  if (tempDirs.size === 0) process.once('exit', () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  tempDirs.add(dir);
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** One command on a connection of its own, which fails at once when the node is down. */
export async function redisCommand(port: number, command: string, ...args: Array<string | number>): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    protocol: 2,
    enableReadyCheck: false,
    disableClientInfo: true,
    maintNotifications: 'disabled',
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

/** A field of an INFO-style reply ("name:value" lines). */
export function infoField(info: unknown, name: string): string | undefined {
  const line = String(info)
    .split('\r\n')
    .find((candidate) => candidate.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

/**
 * Polls `unmet` (which says what is still missing, or undefined once nothing is) until it is
 * satisfied; after `timeoutMs` throws naming `what` and the last thing that was missing.
 */
export async function waitUntil(what: string, timeoutMs: number, unmet: () => Promise<string | undefined>): Promise<void> {
  try {
    await eventually(
      async () => {
        const missing = await unmet();
        if (missing) throw new Error(missing);
      },
      { timeoutMs, intervalMs: 50, what },
    );
  } catch (error) {
    throw new Error(`${what} did not happen within ${timeoutMs} ms; last seen: ${(error as Error).message}`);
  }
}
