import { PendingCall } from './holdup';

/**
 * Calls waiting for a woken client. `settle` is atomic: however many
 * instances race to report a call (a ready, a decline, the deadline), exactly
 * one gets the call back and reports it.
 */
export abstract class PendingCallStore {
  /** Records the call; false when it is already pending (a repeated CallDelivered). */
  abstract begin(call: PendingCall): Promise<boolean>;
  abstract get(callId: string): Promise<PendingCall | undefined>;
  /** Removes and returns the call if it is still pending. */
  abstract settle(callId: string): Promise<PendingCall | undefined>;
  /** Pending calls that woke this session. */
  abstract pendingFor(sessionId: string): Promise<PendingCall[]>;
  /** Calls whose deadline has passed. */
  abstract due(now: number): Promise<PendingCall[]>;
}
