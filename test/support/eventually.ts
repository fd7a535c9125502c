/**
 * Retries `check` until it stops throwing, for state that changes on its own
 * (a TTL running out, a reconnect). Bounded: after `timeoutMs` the last
 * failure is thrown. Not a timing assertion: only the outcome is checked.
 */
export async function eventually<T>(
  check: () => Promise<T> | T,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
