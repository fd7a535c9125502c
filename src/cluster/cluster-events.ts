/**
 * Events between gateway instances: a setup, a logout, a socket opened or a
 * subscription changed on one instance must reach the sockets and the
 * routing caches of every other. Every event of the map is heard by every
 * instance, the publishing one included; in memory mode that is the one
 * process, with Redis it is pub/sub. Delivery is at-most-once and ordered
 * per event name, like Redis pub/sub; an instance that may have missed some
 * (its pub/sub connection dropped) is told to resync (`onResync`).
 */

/** A session was set up: routing caches that know its identity or its owner must learn of it. */
export interface SessionOpened {
  readonly sessionId: string;
  readonly sub: string;
  readonly identity: string;
}

/** A session ended (logout, replaced, revoked, expired): its socket closes with this code, wherever it is held. */
export interface SessionEnded {
  readonly sessionId: string;
  readonly code: number;
  /** The close reason the socket is given. */
  readonly reason?: string;
  /** Whose subscription may have changed with it (logout deletes it): caches evict it. */
  readonly sub: string;
  readonly identity: string;
}

/** A (sub, identity) subscription changed: open sockets reload it, caches evict it. */
export interface SubscriptionChanged {
  readonly sub: string;
  readonly identity: string;
}

/** Where a session's socket is held: the instance its deliveries go to. */
export interface SocketHolder {
  readonly instanceId: string;
  readonly connectionId: string;
}

/** A session's socket opened on an instance: any older socket of it closes with 4002, deliveries go there. */
export interface SocketClaimed extends SocketHolder {
  readonly sessionId: string;
}

/** A session's socket closed: its deliveries go nowhere (they stay buffered) unless a newer socket claimed it. */
export interface SocketReleased extends SocketHolder {
  readonly sessionId: string;
}

export interface ClusterEventMap {
  SessionOpened: SessionOpened;
  SessionEnded: SessionEnded;
  SubscriptionChanged: SubscriptionChanged;
  SocketClaimed: SocketClaimed;
  SocketReleased: SocketReleased;
}

export type ClusterEventName = keyof ClusterEventMap;

/** The pub/sub channel of each event. */
export const CLUSTER_CHANNELS: { readonly [Name in ClusterEventName]: string } = {
  SessionOpened: 'vora:session-opened',
  SessionEnded: 'vora:session-closed',
  SubscriptionChanged: 'vora:subscription-changed',
  SocketClaimed: 'vora:socket-claimed',
  SocketReleased: 'vora:socket-released',
};

/** A listener may return a promise: a settled publish waits for it. */
export type ClusterListener<Name extends ClusterEventName> = (event: ClusterEventMap[Name]) => unknown;

export interface PublishOptions {
  /**
   * Resolve only once every live instance has heard the event and its
   * listeners have finished (or after a bound, when an instance does not
   * answer: it died, or missed the event and resyncs). What a client is told
   * after a settled publish (a setup's 200, a logout's 204) then holds on
   * every instance: their routing caches know it.
   */
  readonly settled?: boolean;
}

export abstract class ClusterEvents {
  abstract publish<Name extends ClusterEventName>(name: Name, event: ClusterEventMap[Name], options?: PublishOptions): Promise<void>;
  /** The listener hears every event of that name published after this resolves, on any instance. */
  abstract listen<Name extends ClusterEventName>(name: Name, listener: ClusterListener<Name>): Promise<void>;
  /** Called when this instance may have missed events (its pub/sub connection came back): caches built on them must go. */
  abstract onResync(listener: () => void): void;
}
