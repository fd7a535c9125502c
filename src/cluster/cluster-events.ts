/**
 * Events between gateway instances: a logout or a subscription change on one
 * instance must reach sockets held by every other. Every event of the map is
 * heard by every instance, the publishing one included; in memory mode that is
 * the one process, with Redis it is pub/sub. Delivery is at-most-once and
 * ordered per event name, like Redis pub/sub.
 */

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

/** A session's socket opened somewhere: any older socket of it closes with 4002. */
export interface SocketClaimed {
  readonly sessionId: string;
  readonly connectionId: string;
}

export interface ClusterEventMap {
  SessionEnded: SessionEnded;
  SubscriptionChanged: SubscriptionChanged;
  SocketClaimed: SocketClaimed;
}

export type ClusterEventName = keyof ClusterEventMap;

/** The pub/sub channel of each event: unchanged names, so that instances of different versions still hear each other. */
export const CLUSTER_CHANNELS: { readonly [Name in ClusterEventName]: string } = {
  SessionEnded: 'vora:session-closed',
  SubscriptionChanged: 'vora:subscription-changed',
  SocketClaimed: 'vora:socket-claimed',
};

export type ClusterListener<Name extends ClusterEventName> = (event: ClusterEventMap[Name]) => void;

export abstract class ClusterEvents {
  abstract publish<Name extends ClusterEventName>(name: Name, event: ClusterEventMap[Name]): Promise<void>;
  /** The listener hears every event of that name published after this resolves, on any instance. */
  abstract listen<Name extends ClusterEventName>(name: Name, listener: ClusterListener<Name>): Promise<void>;
}
