import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ClusterEvents, SocketHolder } from '../cluster/cluster-events';
import { Instances } from '../cluster/instances';
import { Directory } from '../identity/directory';
import { PresenceStore } from '../session/presence.store';
import { Session } from '../session/session';
import { SessionStore } from '../session/session.store';

/**
 * An entry expires at a random age between these. Invalidation messages keep
 * the table exact; the age only bounds what a lost message could leave
 * wrong. Random, so that entries loaded together are not reloaded together.
 */
const MIN_AGE_MS = 60_000;
const MAX_AGE_MS = 120_000;
const SWEEP_EVERY_MS = 30_000;

interface Entry {
  readonly sessions: readonly Session[];
  readonly expiresAt: number;
}

/** What the table knows of one session: where its socket is, and how many entries name it. */
interface Known {
  holder?: SocketHolder;
  refs: number;
}

/**
 * Which sessions each identity has, and each user (for the managers of a
 * group), and where their sockets are held: the routing reads, served from
 * this instance's memory. A miss reads the session store and the presence
 * records once; from then on the cluster events keep the entry exact
 * (setup, end, socket claimed and released), and an instance that may have
 * missed events (its pub/sub connection dropped) forgets everything.
 *
 * A load that overlapped an invalidation is used for its batch but not kept:
 * it may predate what the invalidation announced.
 */
@Injectable()
export class RoutingTable implements OnModuleDestroy {
  private readonly byIdentity = new Map<string, Entry>();
  private readonly byUser = new Map<string, Entry>();
  private readonly known = new Map<string, Known>();
  /**
   * Sessions that ended, until no entry loaded before their end can be left:
   * the store still holds an ending session for a moment after every
   * instance heard of it, and a load then must not bring it back.
   */
  private readonly ended = new Map<string, number>();
  private generation = 0;
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);

  constructor(
    private readonly sessions: SessionStore,
    private readonly presence: PresenceStore,
    private readonly directory: Directory,
    private readonly instances: Instances,
    cluster: ClusterEvents,
  ) {
    this.sweeper.unref();
    cluster.onResync(() => this.clear());
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** The live sessions of each identity, aligned with `identities`. */
  async sessionsOf(identities: readonly string[]): Promise<Session[][]> {
    const now = Date.now();
    const result: Session[][] = new Array(identities.length);
    const missing: number[] = [];
    identities.forEach((identity, i) => {
      const entry = this.byIdentity.get(identity);
      if (entry && entry.expiresAt > now) result[i] = entry.sessions as Session[];
      else missing.push(i);
    });
    if (!missing.length) return result;
    const generation = this.generation;
    const loaded = (await this.sessions.listByIdentities(missing.map((i) => identities[i]))).map((sessions) => this.live(sessions));
    await this.learnHolders(loaded.flat(), generation);
    missing.forEach((i, k) => {
      result[i] = loaded[k];
      if (this.generation === generation) this.keep(this.byIdentity, identities[i], loaded[k]);
    });
    return result;
  }

  /** Group events reach the sessions that managers of the group opened in manager mode, and nobody else. */
  async managerSessionsOf(group: string): Promise<Session[]> {
    const managers = await this.directory.managersOf(group);
    const sessions = await Promise.all(managers.map((manager) => this.sessionsOfUser(manager.sub)));
    return sessions.flat().filter((session) => session.mode === 'manager');
  }

  /** The instance holding the session's socket, if one is open there and the instance is alive. */
  holderOf(sessionId: string): string | undefined {
    const holder = this.known.get(sessionId)?.holder;
    return holder && this.instances.isAlive(holder.instanceId) ? holder.instanceId : undefined;
  }

  /** A session was set up: its identity's and owner's entries are reloaded on their next use. */
  opened(sub: string, identity: string): void {
    this.generation++;
    this.drop(this.byIdentity, identity);
    this.drop(this.byUser, sub);
  }

  /** A session ended: it leaves its identity's and owner's entries, and later loads. */
  sessionEnded(sessionId: string, sub: string, identity: string): void {
    this.ended.set(sessionId, Date.now() + MAX_AGE_MS);
    this.opened(sub, identity);
  }

  claimed(sessionId: string, holder: SocketHolder): void {
    this.generation++;
    // It may have started after this instance's latest beat: it is alive, it just took a socket.
    this.instances.heardFrom(holder.instanceId);
    const known = this.known.get(sessionId);
    if (known) known.holder = holder;
  }

  released(sessionId: string, holder: SocketHolder): void {
    this.generation++;
    const known = this.known.get(sessionId);
    if (known?.holder?.connectionId === holder.connectionId) known.holder = undefined;
  }

  /** Everything but the ended sessions, which loads must still leave out. */
  clear(): void {
    this.generation++;
    this.byIdentity.clear();
    this.byUser.clear();
    this.known.clear();
  }

  private live(sessions: Session[]): Session[] {
    return this.ended.size ? sessions.filter((session) => !this.ended.has(session.id)) : sessions;
  }

  private async sessionsOfUser(sub: string): Promise<Session[]> {
    const entry = this.byUser.get(sub);
    if (entry && entry.expiresAt > Date.now()) return entry.sessions as Session[];
    const generation = this.generation;
    const sessions = this.live(await this.sessions.listByUser(sub));
    await this.learnHolders(sessions, generation);
    if (this.generation === generation) this.keep(this.byUser, sub, sessions);
    return sessions;
  }

  /**
   * Where the sockets of sessions no kept entry names are, from the presence
   * records. A session some entry names is kept up to date by the claims and
   * releases; one that none names (refs 0) was learnt for a batch only, and
   * is read again.
   */
  private async learnHolders(sessions: readonly Session[], generation: number): Promise<void> {
    const unknown = sessions.filter((session) => !this.known.get(session.id)?.refs).map((session) => session.id);
    if (!unknown.length) return;
    const holders = await this.presence.holdersOf(unknown);
    unknown.forEach((id, i) => {
      const known = this.known.get(id);
      // A claim or release heard meanwhile is newer than what was read.
      if (known?.refs) return;
      if (known && this.generation !== generation) return;
      this.known.set(id, { holder: holders[i], refs: 0 });
    });
  }

  /** Counts the new entry's sessions before the old entry's go, so that a session in both keeps what is known of it. */
  private keep(map: Map<string, Entry>, key: string, sessions: readonly Session[]): void {
    for (const session of sessions) {
      const known = this.known.get(session.id);
      if (known) known.refs++;
      else this.known.set(session.id, { refs: 1 });
    }
    this.drop(map, key);
    map.set(key, { sessions, expiresAt: Date.now() + MIN_AGE_MS + Math.random() * (MAX_AGE_MS - MIN_AGE_MS) });
  }

  private drop(map: Map<string, Entry>, key: string): void {
    const entry = map.get(key);
    if (!entry) return;
    map.delete(key);
    for (const session of entry.sessions) {
      const known = this.known.get(session.id);
      if (known && --known.refs <= 0) this.known.delete(session.id);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const map of [this.byIdentity, this.byUser]) {
      for (const [key, entry] of map) if (entry.expiresAt <= now) this.drop(map, key);
    }
    // Holders learnt for a batch whose load was not kept.
    for (const [id, known] of this.known) if (known.refs <= 0) this.known.delete(id);
    for (const [id, until] of this.ended) if (until <= now) this.ended.delete(id);
  }
}
