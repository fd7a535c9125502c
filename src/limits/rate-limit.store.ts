/** The rate limits are per minute (RATE_LIMIT_PER_MINUTE, INGRESS_RATE_LIMIT_PER_MINUTE). */
export const RATE_WINDOW_MS = 60_000;

/** Client endpoints and the platform's ingress are counted apart: a caller's requests never eat its events. */
export type RateBucket = 'api' | 'ingress';

export interface RateDecision {
  readonly allowed: boolean;
  /** When refused: milliseconds until the caller's window ends and its count starts again from zero. */
  readonly retryAfterMs: number;
}

/**
 * Counts what each caller spends per minute. The algorithm is a fixed window
 * that starts at the caller's first counted request: up to `limit` units in
 * the minute that follows, then a fresh window. A refused request spends
 * nothing, so a smaller request may still fit where a larger one did not.
 * (Across a window boundary a caller may spend up to twice the limit within
 * one minute; the price of two numbers per caller instead of a log.)
 *
 * Adapters never refuse because their backend is away: an outage of the
 * limiter is no reason to turn calls down, so they let the request through.
 */
export abstract class RateLimitStore {
  /** Spends `cost` units of the caller's `bucket` when they fit under `limit`. */
  abstract take(caller: string, bucket: RateBucket, cost: number, limit: number): Promise<RateDecision>;
}

export const ALLOWED: RateDecision = { allowed: true, retryAfterMs: 0 };
