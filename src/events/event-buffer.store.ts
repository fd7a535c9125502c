/** An event appended to a session's buffer: its per-session id and its wire frame. */
export interface BufferedEvent {
  readonly id: number;
  readonly frame: string;
}

export interface Delivery extends BufferedEvent {
  readonly sessionId: string;
  /** When the gateway accepted the event (epoch ms), for the delivery latency metric. */
  readonly acceptedAt?: number;
}

export interface AppendEntry {
  readonly sessionId: string;
  /** See envelope.ts: the frame is FRAME_HEAD + id + tail. */
  readonly tail: string;
  /** The `vora:ingress` entry id the event came from, when it came from the stream. */
  readonly sourceId?: string;
}

/** Whether stream entry id `a` ("<ms>-<seq>") comes after `b`. */
export function isNewerSource(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am > bm || (am === bm && as > bs);
}

export interface AppendOptions {
  /** When the gateway accepted the events (epoch ms), carried by the deliveries for the latency metric. */
  readonly acceptedAt?: number;
  /**
   * The ingress entries may have been buffered before: routed by a reader
   * that died before acknowledging them, or routed again after a failure.
   * Each is then buffered only if its session did not take it already.
   */
  readonly retried?: boolean;
}

export interface BufferSlice {
  /** Kept events after the asked-for id, oldest first (at most the asked-for number). */
  readonly events: readonly BufferedEvent[];
  /** Oldest id still kept; 0 when nothing is kept. */
  readonly oldestId: number;
  /** Newest id ever assigned to the session; 0 when none. */
  readonly newestId: number;
}

/**
 * Each session's recent events, so that a client that reconnects with
 * `lastEventId` (or without it, after the last event written to its socket)
 * misses nothing. Ids are per session: 1, 2, 3, ... with no holes. A buffer is
 * opened when its session is set up, keeps at least EVENT_BUFFER_SIZE events,
 * and lives SESSION_IDLE_TTL_S after its opening or its last touch, which the
 * socket registry makes while it keeps the session alive: so it lives at
 * least as long as its session. An append does not extend it, and finds no
 * buffer for a session that ended (nothing is buffered for it then).
 */
export abstract class EventBufferStore {
  /** An empty buffer for a new session, its next id 1 (a buffer of the same id is replaced). */
  abstract open(sessionId: string): Promise<void>;
  /**
   * Appends in the given order; entries for one session get consecutive ids.
   * Result i belongs to entries[i]; undefined where the session has no buffer
   * (it ended), or, when `retried`, where its session already took the ingress
   * entry (a sourceId not newer than the last one it took), so that a batch
   * routed again after a crash is not buffered twice. Calls are numbered in
   * the order they are made, even when a call is made before the previous one
   * resolved (the router overlaps batches).
   */
  abstract append(entries: readonly AppendEntry[], options?: AppendOptions): Promise<Array<Delivery | undefined>>;
  /** The kept events after `afterId`, the oldest `limit` of them when a limit is given (a replay reads in pages). */
  abstract readAfter(sessionId: string, afterId: number, limit?: number): Promise<BufferSlice>;
  /** The newest id written to a socket of the session (0 when none). */
  abstract lastWritten(sessionId: string): Promise<number>;
  abstract markWritten(sessionId: string, id: number): Promise<void>;
  abstract touch(sessionId: string): Promise<void>;
  /** After a store lost the buffer, makes the next id follow `lastId`, so that ids never go back. */
  abstract continueFrom(sessionId: string, lastId: number): Promise<void>;
  abstract drop(sessionId: string): Promise<void>;
}
