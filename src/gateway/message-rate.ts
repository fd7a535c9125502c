/**
 * A token bucket: `burst` messages at once, then `perSecond` on average. Each
 * socket gets one when its first message arrives (most idle sockets never
 * send one), so it costs nothing per idle socket.
 */
export class MessageRate {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.refilledAt = now;
  }

  /** Takes a token for one message; false when the bucket is empty (the client sends too fast). */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
