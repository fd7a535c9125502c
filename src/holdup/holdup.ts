/** What the platform is told about a woken mobile client (SPEC section 7). */
export type HoldUpOutcome = 'ClientReady' | 'ClientDeclined' | 'ClientNotReady';

/** A terminating call waiting for a mobile client in holdUpMode to answer `ready`. */
export interface PendingCall {
  readonly callId: string;
  readonly identity: string;
  /** The holdUp sessions that were woken for it; the first to answer settles the call. */
  readonly sessionIds: readonly string[];
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly deadline: number;
}

export interface OutcomeReport {
  readonly event: HoldUpOutcome;
  readonly callId: string;
  readonly identity: string;
  readonly sessionId: string;
  readonly waitedMs: number;
  readonly occurredAt: string;
}

/**
 * The body of a wake-up push (SPEC section 7). It carries the caller, because
 * an app woken by a VoIP push must show the call before it has a connection.
 */
export interface PushRequest {
  readonly sessionId: string;
  readonly sub: string;
  readonly identity: string;
  readonly callId: string;
  /** The event's name, as in every other message of the gateway. */
  readonly event: 'CallDelivered';
  /** `data.remoteParty`, or null when the platform sent none. */
  readonly remoteParty: string | null;
  /** The whole CallDelivered data. */
  readonly data: Readonly<Record<string, unknown>>;
  readonly deadline: string;
}
