/**
 * Which sessions have an open socket, anywhere in the cluster. An entry lives
 * a few heartbeats unless refreshed, so a crashed instance's sockets stop
 * counting as open on their own.
 */
export abstract class PresenceStore {
  abstract connected(sessionId: string, connectionId: string, ttlMs: number): Promise<void>;
  /** Forgets the socket, unless a newer socket of the session has taken over. */
  abstract disconnected(sessionId: string, connectionId: string): Promise<void>;
  abstract isConnected(sessionId: string): Promise<boolean>;
}
