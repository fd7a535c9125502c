import { LimitsConfig } from '../config/gateway-config';

export type Admission =
  | { readonly admitted: true; readonly release: () => void }
  | { readonly admitted: false; readonly cap: 'user' | 'ip'; readonly limit: number };

/**
 * The caps on live sockets, MAX_SOCKETS_PER_USER per `sub` and
 * MAX_SOCKETS_PER_IP per client address, counted over the sockets this
 * instance holds. Per instance on purpose: a socket lives on one instance and
 * the load balancer spreads them, so a shared count would buy a Redis round
 * trip per connect for no real protection.
 *
 * Counted by session: a socket that replaces its session's socket (the same
 * session id) does not count twice while the old one is closing. Each count
 * is a map of session id → sockets, so admit and release are O(1).
 */
export class SocketCaps {
  private readonly byUser = new Map<string, Map<string, number>>();
  private readonly byIp = new Map<string, Map<string, number>>();

  constructor(private readonly limits: LimitsConfig) {}

  /** Counts one more socket of the session unless a cap is reached; `release` (idempotent) uncounts it. */
  admit(sessionId: string, sub: string, ip: string): Admission {
    if (full(this.byUser.get(sub), sessionId, this.limits.maxSocketsPerUser)) {
      return { admitted: false, cap: 'user', limit: this.limits.maxSocketsPerUser };
    }
    if (full(this.byIp.get(ip), sessionId, this.limits.maxSocketsPerIp)) {
      return { admitted: false, cap: 'ip', limit: this.limits.maxSocketsPerIp };
    }
    add(this.byUser, sub, sessionId);
    add(this.byIp, ip, sessionId);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        remove(this.byUser, sub, sessionId);
        remove(this.byIp, ip, sessionId);
      },
    };
  }
}

function full(sessions: Map<string, number> | undefined, sessionId: string, limit: number): boolean {
  return !!sessions && !sessions.has(sessionId) && sessions.size >= limit;
}

function add(counts: Map<string, Map<string, number>>, key: string, sessionId: string): void {
  let sessions = counts.get(key);
  if (!sessions) counts.set(key, (sessions = new Map()));
  sessions.set(sessionId, (sessions.get(sessionId) ?? 0) + 1);
}

function remove(counts: Map<string, Map<string, number>>, key: string, sessionId: string): void {
  const sessions = counts.get(key);
  const sockets = sessions?.get(sessionId);
  if (!sessions || sockets === undefined) return;
  if (sockets > 1) sessions.set(sessionId, sockets - 1);
  else sessions.delete(sessionId);
  if (!sessions.size) counts.delete(key);
}
