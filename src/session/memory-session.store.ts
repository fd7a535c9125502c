import { OnModuleDestroy } from '@nestjs/common';
import { SocketHolder } from '../cluster/cluster-events';
import { lifetimeEnd, Session, sameKey } from './session';
import { OpenResult, SessionStore } from './session.store';

const SWEEP_EVERY_MS = 10_000;

/**
 * A live session and what the memory adapters keep about it, in one object:
 * every index points at the record, and presence (MemoryPresenceStore) is two
 * fields of it rather than an entry of its own. Memory per idle session is a
 * target.
 */
class SessionRecord {
  /** Where the socket that holds the session is (MemoryPresenceStore), until presenceExpiresAt. */
  holder: SocketHolder | undefined = undefined;
  presenceExpiresAt = 0;

  constructor(
    readonly session: Session,
    public expiresAt: number,
  ) {}
}

/**
 * The records of a user or an identity: most have one session, so a record
 * stands alone until a second one comes (no set for a single entry).
 */
type Records = SessionRecord | SessionRecord[];

/**
 * Sessions of a single instance. Expired sessions are invisible at once and
 * freed, with their indexes, by a periodic sweep.
 */
export class MemorySessionStore extends SessionStore implements OnModuleDestroy {
  private readonly byId = new Map<string, SessionRecord>();
  private readonly byTokenHash = new Map<string, SessionRecord>();
  private readonly byUser = new Map<string, Records>();
  private readonly byIdentity = new Map<string, Records>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS).unref();

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async open(session: Session, limits: { ttlS: number; maxPerUser: number }): Promise<OpenResult> {
    const own = this.live(this.byUser.get(session.sub), Date.now());
    const replaced = own.find((s) => sameKey(s, session));
    const live = own.length - (replaced ? 1 : 0);
    if (live >= limits.maxPerUser) return { opened: false, live };
    // No await between the check and the insert: a concurrent open of the same key must see this one.
    if (replaced) this.removeNow(replaced.id);
    this.put(session, limits.ttlS);
    return { opened: true, replaced };
  }

  async restore(session: Session, ttlS: number): Promise<boolean> {
    if (this.record(session.id)) return false;
    this.put(session, ttlS);
    return true;
  }

  async findByTokenHash(tokenHash: string): Promise<Session | undefined> {
    const record = this.byTokenHash.get(tokenHash);
    return record && this.isLive(record) ? record.session : undefined;
  }

  async listByUser(sub: string): Promise<Session[]> {
    return this.live(this.byUser.get(sub), Date.now());
  }

  async listByIdentities(identities: readonly string[]): Promise<Session[][]> {
    const now = Date.now();
    return identities.map((identity) => this.live(this.byIdentity.get(identity), now));
  }

  async touch(session: Session, ttlS: number): Promise<boolean> {
    const record = this.record(session.id);
    if (record) record.expiresAt = expiryOf(record.session, ttlS);
    return !!record && this.isLive(record);
  }

  async remove(id: string): Promise<Session | undefined> {
    return this.removeNow(id);
  }

  async problem(): Promise<string | undefined> {
    return undefined;
  }

  /** A process's memory is lost only with the process, and its sockets with it. */
  async epoch(): Promise<string> {
    return 'memory';
  }

  /** The record of a live session, for MemoryPresenceStore. */
  record(id: string): SessionRecord | undefined {
    const record = this.byId.get(id);
    return record && this.isLive(record) ? record : undefined;
  }

  /** Frees expired sessions and their indexes (also run by the periodic sweep). */
  sweep(): void {
    const now = Date.now();
    for (const record of this.byId.values()) if (record.expiresAt <= now) this.unindex(record);
  }

  private put(session: Session, ttlS: number): void {
    const record = new SessionRecord(session, expiryOf(session, ttlS));
    this.byId.set(session.id, record);
    this.byTokenHash.set(session.tokenHash, record);
    add(this.byUser, session.sub, record);
    add(this.byIdentity, session.identity, record);
  }

  /** False once expired; an expired record found on the way is freed. */
  private isLive(record: SessionRecord, now = Date.now()): boolean {
    if (record.expiresAt > now) return true;
    this.unindex(record);
    return false;
  }

  private removeNow(id: string): Session | undefined {
    const record = this.record(id);
    if (record) this.unindex(record);
    return record?.session;
  }

  /** Asked per identity of every routed batch: one array out, none made on the way. */
  private live(records: Records | undefined, now: number): Session[] {
    if (!records) return [];
    if (!Array.isArray(records)) return this.isLive(records, now) ? [records.session] : [];
    const sessions: Session[] = [];
    for (const record of records) if (this.isLive(record, now)) sessions.push(record.session);
    return sessions;
  }

  private unindex(record: SessionRecord): void {
    const { session } = record;
    if (this.byId.get(session.id) === record) this.byId.delete(session.id);
    if (this.byTokenHash.get(session.tokenHash) === record) this.byTokenHash.delete(session.tokenHash);
    remove(this.byUser, session.sub, record);
    remove(this.byIdentity, session.identity, record);
  }
}

/** `ttlS` from now, but never past the session's lifetime. */
function expiryOf(session: Session, ttlS: number): number {
  return Math.min(Date.now() + ttlS * 1000, lifetimeEnd(session));
}

function add(index: Map<string, Records>, key: string, record: SessionRecord): void {
  const records = index.get(key);
  if (!records) index.set(key, record);
  else if (Array.isArray(records)) records.push(record);
  else index.set(key, [records, record]);
}

/** Leaves the other records as they were: a reader may be going through the old array. */
function remove(index: Map<string, Records>, key: string, record: SessionRecord): void {
  const records = index.get(key);
  if (records === record) {
    index.delete(key);
  } else if (Array.isArray(records) && records.includes(record)) {
    const rest = records.filter((r) => r !== record);
    index.set(key, rest.length === 1 ? rest[0] : rest);
  }
}
