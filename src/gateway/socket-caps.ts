import type { Socket } from 'node:net';
import { LimitsConfig } from '../config/gateway-config';

export interface CapRefusal {
  readonly cap: 'user' | 'ip';
  readonly limit: number;
}

/** The place a connection holds in the caps, kept on the connection until it closes. */
interface Hold {
  readonly sessionId: string;
  readonly sub: string;
  readonly ip: string;
}

const HOLD = Symbol('vora.capHold');
type HoldingSocket = Socket & { [HOLD]?: Hold };

/**
 * The caps on live sockets, MAX_SOCKETS_PER_USER per `sub` and
 * MAX_SOCKETS_PER_IP per client address, counted over the sockets this
 * instance holds. Per instance on purpose: a socket lives on one instance and
 * the load balancer spreads them, so a shared count would buy a Redis round
 * trip per connect for no real protection.
 *
 * Counted by session: a socket that replaces its session's socket (the same
 * session id) does not count twice while the old one is closing. A session
 * belongs to one user for life, so the user count is the number of its
 * sessions holding sockets; a session can reconnect from another address,
 * so each address keeps a map of session id → sockets. Admit and release
 * are O(1).
 */
export class SocketCaps {
  private readonly socketsBySession = new Map<string, number>();
  private readonly sessionsByUser = new Map<string, number>();
  private readonly byIp = new Map<string, Map<string, number>>();
  /** One close listener for every connection rather than a closure each: memory per idle socket is a target. */
  private readonly releaseOnClose: (this: HoldingSocket) => void;

  constructor(private readonly limits: LimitsConfig) {
    const release = (connection: HoldingSocket) => this.release(connection);
    this.releaseOnClose = function () {
      release(this);
    };
  }

  /**
   * Counts the connection as one more socket of the session, from now until it
   * closes (through the upgrade, the socket's life and its close), unless a
   * cap is reached: then it says which.
   */
  admit(connection: Socket, sessionId: string, sub: string, ip: string): CapRefusal | undefined {
    const newSession = !this.socketsBySession.has(sessionId);
    if (newSession && (this.sessionsByUser.get(sub) ?? 0) >= this.limits.maxSocketsPerUser) {
      return { cap: 'user', limit: this.limits.maxSocketsPerUser };
    }
    if (full(this.byIp.get(ip), sessionId, this.limits.maxSocketsPerIp)) {
      return { cap: 'ip', limit: this.limits.maxSocketsPerIp };
    }
    // Closed already: nothing to count.
    if (connection.destroyed) return undefined;
    this.socketsBySession.set(sessionId, (this.socketsBySession.get(sessionId) ?? 0) + 1);
    if (newSession) this.sessionsByUser.set(sub, (this.sessionsByUser.get(sub) ?? 0) + 1);
    add(this.byIp, ip, sessionId);
    (connection as HoldingSocket)[HOLD] = { sessionId, sub, ip };
    connection.on('close', this.releaseOnClose);
    return undefined;
  }

  private release(connection: HoldingSocket): void {
    const hold = connection[HOLD];
    if (!hold) return;
    connection[HOLD] = undefined;
    remove(this.byIp, hold.ip, hold.sessionId);
    const sockets = this.socketsBySession.get(hold.sessionId)!;
    if (sockets > 1) return void this.socketsBySession.set(hold.sessionId, sockets - 1);
    this.socketsBySession.delete(hold.sessionId);
    const sessions = this.sessionsByUser.get(hold.sub)!;
    if (sessions > 1) this.sessionsByUser.set(hold.sub, sessions - 1);
    else this.sessionsByUser.delete(hold.sub);
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
