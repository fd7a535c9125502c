import { OnModuleDestroy } from '@nestjs/common';
import { ExpiringMap } from '../common/expiring-map';
import { Session, sameKey } from './session';
import { OpenResult, SessionStore } from './session.store';

/** Sessions of a single instance. Indexes are derived from the live sessions. */
export class MemorySessionStore extends SessionStore implements OnModuleDestroy {
  private readonly sessions = new ExpiringMap<string, Session>(10_000, (_id, session) => this.unindex(session));
  private readonly byTokenHash = new Map<string, string>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly byIdentity = new Map<string, Set<string>>();

  onModuleDestroy(): void {
    this.sessions.close();
  }

  async open(session: Session, limits: { ttlS: number; maxPerUser: number }): Promise<OpenResult> {
    const own = this.live(this.byUser.get(session.sub));
    const replaced = own.find((s) => sameKey(s, session));
    const live = own.length - (replaced ? 1 : 0);
    if (live >= limits.maxPerUser) return { opened: false, live };
    // No await between the check and the insert: a concurrent open of the same key must see this one.
    if (replaced) this.removeNow(replaced.id);
    this.put(session, limits.ttlS);
    return { opened: true, replaced };
  }

  async restore(session: Session, ttlS: number): Promise<boolean> {
    if (this.sessions.get(session.id)) return false;
    this.put(session, ttlS);
    return true;
  }

  private put(session: Session, ttlS: number): void {
    this.sessions.set(session.id, session, ttlS * 1000);
    this.byTokenHash.set(session.tokenHash, session.id);
    add(this.byUser, session.sub, session.id);
    add(this.byIdentity, session.identity, session.id);
  }

  async get(id: string): Promise<Session | undefined> {
    return this.sessions.get(id);
  }

  async findByTokenHash(tokenHash: string): Promise<Session | undefined> {
    const id = this.byTokenHash.get(tokenHash);
    return id === undefined ? undefined : this.sessions.get(id);
  }

  async listByUser(sub: string): Promise<Session[]> {
    return this.live(this.byUser.get(sub));
  }

  async listByIdentity(identity: string): Promise<Session[]> {
    return this.live(this.byIdentity.get(identity));
  }

  async touch(id: string, ttlS: number): Promise<boolean> {
    return this.sessions.touch(id, ttlS * 1000);
  }

  async remove(id: string): Promise<Session | undefined> {
    return this.removeNow(id);
  }

  async ping(): Promise<void> {}

  /** A process's memory is lost only with the process, and its sockets with it. */
  async epoch(): Promise<string> {
    return 'memory';
  }

  private removeNow(id: string): Session | undefined {
    const session = this.sessions.delete(id);
    if (session) this.unindex(session);
    return session;
  }

  private live(ids: Set<string> | undefined): Session[] {
    const sessions: Session[] = [];
    for (const id of ids ?? []) {
      const session = this.sessions.get(id);
      if (session) sessions.push(session);
    }
    return sessions;
  }

  private unindex(session: Session): void {
    this.byTokenHash.delete(session.tokenHash);
    remove(this.byUser, session.sub, session.id);
    remove(this.byIdentity, session.identity, session.id);
  }
}

function add(index: Map<string, Set<string>>, key: string, id: string): void {
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(id);
}

function remove(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}
