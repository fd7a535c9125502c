import { Injectable } from '@nestjs/common';
import { MemorySessionStore } from './memory-session.store';
import { PresenceStore } from './presence.store';
import { SessionStore } from './session.store';

/**
 * PresenceStore of a single instance, kept in the sessions' own records (a socket
 * holds a live session): no map of its own, and it goes with the session.
 */
@Injectable()
export class MemoryPresenceStore extends PresenceStore {
  private readonly sessions: MemorySessionStore;

  /** The port must be served by the memory store: presence lives in its records. */
  constructor(sessions: SessionStore) {
    super();
    if (!(sessions instanceof MemorySessionStore)) throw new Error('MemoryPresenceStore needs the MemorySessionStore');
    this.sessions = sessions;
  }

  async connected(sessionId: string, connectionId: string, ttlMs: number): Promise<void> {
    const record = this.sessions.record(sessionId);
    if (!record) return;
    record.connectionId = connectionId;
    record.presenceExpiresAt = Date.now() + ttlMs;
  }

  async disconnected(sessionId: string, connectionId: string): Promise<void> {
    const record = this.sessions.record(sessionId);
    if (record?.connectionId === connectionId) record.connectionId = undefined;
  }

  async isConnected(sessionId: string): Promise<boolean> {
    const record = this.sessions.record(sessionId);
    return record?.connectionId !== undefined && record.presenceExpiresAt > Date.now();
  }
}
