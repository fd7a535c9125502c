import { RATE_WINDOW_MS } from './rate-limit.store';

interface Window {
  failures: number;
  endsAt: number;
}

/**
 * WebSocket handshakes refused for want of a valid webSocketToken, per client
 * address per minute (MAX_FAILED_HANDSHAKES_PER_IP). Each such attempt costs a
 * token lookup in the store, so an address past the limit is refused before
 * its token is looked at, until its window ends. Counted per instance, like
 * the socket caps: a handshake is checked where it lands. A fixed window
 * from the address's first failure, as in rate-limiter.ts.
 */
export class FailedHandshakes {
  private readonly windows = new Map<string, Window>();
  private nextSweepAt = 0;

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the address may try again, or 0 when it may now. */
  retryAfterMs(address: string): number {
    const window = this.windows.get(address);
    if (!window) return 0;
    const left = window.endsAt - this.now();
    return left > 0 && window.failures >= this.limit ? left : 0;
  }

  record(address: string): void {
    const now = this.now();
    this.sweep(now);
    const window = this.windows.get(address);
    if (window && window.endsAt > now) window.failures++;
    else this.windows.set(address, { failures: 1, endsAt: now + RATE_WINDOW_MS });
  }

  /** Forgets ended windows at most once a window, so the map holds only addresses that failed lately. */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + RATE_WINDOW_MS;
    for (const [address, window] of this.windows) if (window.endsAt <= now) this.windows.delete(address);
  }
}
