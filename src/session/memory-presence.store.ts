import { Injectable } from '@nestjs/common';
import { SocketHolder } from '../cluster/cluster-events';
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

  async connected(sessionId: string, holder: SocketHolder, ttlMs: number): Promise<void> {
    const record = this.sessions.record(sessionId);
    if (!record) return;
    record.holder = holder;
    record.presenceExpiresAt = Date.now() + ttlMs;
  }

  async disconnected(sessionId: string, holder: SocketHolder): Promise<void> {
    const record = this.sessions.record(sessionId);
    if (record?.holder?.connectionId === holder.connectionId) record.holder = undefined;
  }

  async holdersOf(sessionIds: readonly string[]): Promise<Array<SocketHolder | undefined>> {
    const now = Date.now();
    return sessionIds.map((id) => {
      const record = this.sessions.record(id);
      return record && record.presenceExpiresAt > now ? record.holder : undefined;
    });
  }
}
