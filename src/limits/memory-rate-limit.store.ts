import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ALLOWED, RATE_WINDOW_MS, RateBucket, RateDecision, RateLimitStore } from './rate-limit.store';

interface Window {
  used: number;
  endsAt: number;
}

/** The windows of one process (STORE=memory: there is only one instance to share them with). */
@Injectable()
export class MemoryRateLimitStore extends RateLimitStore implements OnModuleDestroy {
  private readonly windows = new Map<string, Window>();
  /** Frees the windows of callers that went quiet, so the map does not grow with every caller ever seen. */
  private readonly sweeper = setInterval(() => this.sweep(), RATE_WINDOW_MS);

  constructor() {
    super();
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async take(caller: string, bucket: RateBucket, cost: number, limit: number): Promise<RateDecision> {
    const now = Date.now();
    const key = `${bucket}:${caller}`;
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) window = { used: 0, endsAt: now + RATE_WINDOW_MS };
    if (window.used + cost > limit) return { allowed: false, retryAfterMs: window.endsAt - now };
    window.used += cost;
    this.windows.set(key, window);
    return ALLOWED;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}
