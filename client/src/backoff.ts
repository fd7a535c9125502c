/** Reconnect delays of SPEC section 11: exponential from 0.5 s up to 20 s, full jitter, reset after a stable minute. */
export const BACKOFF = { firstMs: 500, maxMs: 20_000, stableAfterMs: 60_000 } as const;

/**
 * Full jitter (a uniform delay up to the exponential cap): many clients cut
 * at once, by a restarting gateway, come back spread out instead of together.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

/** A client that heard nothing (no message, no ping) for the heartbeat interval plus this long reconnects. */
export const HEARTBEAT_GRACE_MS = 10_000;
