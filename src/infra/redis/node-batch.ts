import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../../common/store-unavailable';
import { keySlot } from './key-slot';

export type Reply = [Error | null, unknown];

/** What a caller queued: its place on the pipeline of one node. */
interface Part {
  readonly pipeline: ChainableCommander;
  readonly from: number;
  readonly to: number;
}

/**
 * Commands for many keys sent at once, one pipeline per node: on one Redis
 * (or Sentinel's master) a single pipeline, on a Cluster one for each master
 * the keys' slots live on, sent side by side. A Cluster refuses a pipeline
 * whose keys live on two nodes, and a script or MULTI whose keys live in two
 * slots; each `add` must therefore queue commands of one slot only (the
 * key's, or hash-tagged alike). Replies come back in the order they were
 * queued.
 */
export class NodeBatch {
  private readonly pipelines = new Map<string, ChainableCommander>();
  private readonly parts: Part[] = [];

  constructor(private readonly client: Redis | Cluster) {}

  /**
   * Queues what `build` puts on the pipeline of the node that serves `key`
   * (all of it must be in `key`'s slot); its replies are `exec()`'s entry at
   * the index returned.
   */
  add(key: string, build: (pipeline: ChainableCommander) => unknown): number {
    const pipeline = this.pipelineFor(key);
    const from = pipeline.length;
    build(pipeline);
    this.parts.push({ pipeline, from, to: pipeline.length });
    return this.parts.length - 1;
  }

  /**
   * The replies of each `add`, in order, each reply its value or its error
   * reply. A pipeline that could not be sent at all (a connection lost)
   * rejects the whole batch.
   */
  async exec(): Promise<Reply[][]> {
    const replies = new Map<ChainableCommander, Reply[]>();
    await Promise.all([...this.pipelines.values()].map(async (pipeline) => replies.set(pipeline, await sendPipeline(pipeline))));
    return this.parts.map(({ pipeline, from, to }) => replies.get(pipeline)!.slice(from, to));
  }

  private pipelineFor(key: string): ChainableCommander {
    const node = nodeOf(this.client, key);
    let pipeline = this.pipelines.get(node);
    if (!pipeline) {
      pipeline = this.client.pipeline();
      this.pipelines.set(node, pipeline);
    }
    return pipeline;
  }
}

/**
 * The node (master and replicas, as the client's slot table has them) that
 * serves `key`; one name for all keys on a single Redis. A slot the table
 * does not know yet is a node of its own, so that it never joins another
 * node's pipeline.
 */
function nodeOf(client: Redis | Cluster, key: string): string {
  if (!client.isCluster) return '';
  const slot = keySlot(key);
  return (client as Cluster).slots[slot]?.join(',') ?? `#${slot}`;
}

async function sendPipeline(pipeline: ChainableCommander): Promise<Reply[]> {
  const replies = await pipeline.exec();
  if (!replies) throw new StoreUnavailableError();
  return replies;
}
