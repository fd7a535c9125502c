import { MemoryRateLimitStore } from './memory-rate-limit.store';
import { RATE_WINDOW_MS } from './rate-limit.store';

describe('MemoryRateLimitStore', () => {
  let limiter: MemoryRateLimitStore;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-28T10:00:00.000Z') });
    limiter = new MemoryRateLimitStore();
  });
  afterEach(() => {
    limiter.onModuleDestroy();
    jest.useRealTimers();
  });

  it('allows up to the limit in a window, then refuses until the window that began with the first request ends', async () => {
    for (let i = 0; i < 5; i++) expect((await limiter.take('alice', 'api', 1, 5)).allowed).toBe(true);
    jest.advanceTimersByTime(20_000);
    expect(await limiter.take('alice', 'api', 1, 5)).toEqual({ allowed: false, retryAfterMs: RATE_WINDOW_MS - 20_000 });
    jest.advanceTimersByTime(RATE_WINDOW_MS - 20_000 - 1);
    expect((await limiter.take('alice', 'api', 1, 5)).allowed).toBe(false);
    jest.advanceTimersByTime(1);
    expect((await limiter.take('alice', 'api', 1, 5)).allowed).toBe(true);
  });

  it('counts a cost in units, and a refused take spends nothing', async () => {
    expect((await limiter.take('core', 'ingress', 8, 10)).allowed).toBe(true);
    expect((await limiter.take('core', 'ingress', 3, 10)).allowed).toBe(false);
    expect((await limiter.take('core', 'ingress', 2, 10)).allowed).toBe(true);
    expect((await limiter.take('core', 'ingress', 1, 10)).allowed).toBe(false);
  });

  it('keeps callers and buckets apart', async () => {
    expect((await limiter.take('alice', 'api', 2, 2)).allowed).toBe(true);
    expect((await limiter.take('alice', 'api', 1, 2)).allowed).toBe(false);
    expect((await limiter.take('bob', 'api', 1, 2)).allowed).toBe(true);
    expect((await limiter.take('alice', 'ingress', 1, 2)).allowed).toBe(true);
  });

  it('refuses a cost above the limit outright, with the whole window to wait', async () => {
    expect(await limiter.take('core', 'ingress', 11, 10)).toEqual({ allowed: false, retryAfterMs: RATE_WINDOW_MS });
    expect((await limiter.take('core', 'ingress', 10, 10)).allowed).toBe(true);
  });

  it('forgets callers whose window has ended', async () => {
    await limiter.take('alice', 'api', 1, 5);
    const windows = (limiter as unknown as { windows: Map<string, unknown> }).windows;
    expect(windows.size).toBe(1);
    jest.advanceTimersByTime(2 * RATE_WINDOW_MS);
    expect(windows.size).toBe(0);
  });
});
