import { SocketHolder } from '../cluster/cluster-events';

/**
 * Which sessions have an open socket, anywhere in the cluster, and where:
 * the instance that holds it and the connection. An entry lives a few
 * heartbeats unless refreshed, so a crashed instance's sockets stop counting
 * as open on their own (sooner still for routing, which also asks whether
 * the holding instance is alive).
 */
export abstract class PresenceStore {
  abstract connected(sessionId: string, holder: SocketHolder, ttlMs: number): Promise<void>;
  /** Forgets the socket, unless a newer socket of the session has taken over. */
  abstract disconnected(sessionId: string, holder: SocketHolder): Promise<void>;
  /** Where each session's socket is held, aligned with `sessionIds`; undefined where none is open. */
  abstract holdersOf(sessionIds: readonly string[]): Promise<Array<SocketHolder | undefined>>;
}
