/**
 * A map whose entries expire, for the in-memory adapters of TTL-aware ports.
 * Expired entries are invisible at once and are freed by a periodic sweep, so
 * that memory held by abandoned sessions does not grow without bound.
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    sweepEveryMs = 10_000,
    private readonly onExpire?: (key: K, value: V) => void,
  ) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.expire(key, entry.value);
      return undefined;
    }
    return entry.value;
  }

  set(key: K, value: V, ttlMs: number): void {
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  /** Extends the entry's life; false when it is gone. */
  touch(key: K, ttlMs: number): boolean {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= Date.now()) return false;
    entry.expiresAt = Date.now() + ttlMs;
    return true;
  }

  delete(key: K): V | undefined {
    const value = this.get(key);
    this.entries.delete(key);
    return value;
  }

  *values(): IterableIterator<V> {
    const now = Date.now();
    for (const entry of this.entries.values()) if (entry.expiresAt > now) yield entry.value;
  }

  get size(): number {
    return this.entries.size;
  }

  sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.expire(key, entry.value);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private expire(key: K, value: V): void {
    this.entries.delete(key);
    this.onExpire?.(key, value);
  }
}
