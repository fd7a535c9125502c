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

export interface PushRequest {
  readonly sessionId: string;
  readonly sub: string;
  readonly identity: string;
  readonly callId: string;
  /** The CallDelivered event as the client will receive it: the push must carry the caller data. */
  readonly event: Readonly<Record<string, unknown>>;
  readonly deadline: string;
}
