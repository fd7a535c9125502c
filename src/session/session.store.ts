import { Session } from './session';

export type OpenResult =
  | { readonly opened: true; readonly replaced?: Session }
  | { readonly opened: false; readonly live: number };

/**
 * Sessions by id, by token hash, by user and by identity. Every session
 * expires `ttlS` after it was opened or last touched, and at the end of its
 * lifetime (`expiresAt`) at the latest: nothing a store keeps for it, TTLs
 * included, outlives that. The gateway touches it while a socket holds it.
 */
export abstract class SessionStore {
  /**
   * Stores the session, replacing any session with the same key, unless the
   * user would then hold more than `maxPerUser` sessions. Atomic.
   */
  abstract open(session: Session, limits: { ttlS: number; maxPerUser: number }): Promise<OpenResult>;
  abstract findByTokenHash(tokenHash: string): Promise<Session | undefined>;
  abstract listByUser(sub: string): Promise<Session[]>;
  /**
   * The live sessions of each identity, aligned with `identities`: routing asks
   * once per batch for all its targets, so a store answers them together (one
   * loop in memory, two round trips to Redis) rather than one promise each.
   */
  abstract listByIdentities(identities: readonly string[]): Promise<Session[][]>;
  /** Extends the session's life (not past its lifetime); false when it has expired or was removed. */
  abstract touch(session: Session, ttlS: number): Promise<boolean>;
  /** Removes the session and its token; returns what was removed. */
  abstract remove(id: string): Promise<Session | undefined>;
  /**
   * Puts back a session that the store lost while a socket still held it (a
   * Redis restarted empty), without the per-user limit. False when it exists.
   */
  abstract restore(session: Session, ttlS: number): Promise<boolean>;
  /**
   * An id of the store's current contents, which changes when the store loses
   * everything (a Redis restarted without persistence). Sockets that outlive
   * such a loss restore their sessions.
   */
  abstract epoch(): Promise<string>;
  /** Why the store cannot serve every session now, named for readiness (unreachable, a Cluster slot without master...); undefined when it can. */
  abstract problem(): Promise<string | undefined>;
}
