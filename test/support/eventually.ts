export interface EventuallyOptions {
  /** How long to keep trying before the last failure is thrown (10 s unless told). */
  timeoutMs?: number;
  /** The pause between two tries. */
  intervalMs?: number;
  /** What is awaited, for the message when the condition never held. */
  what?: string;
}

/**
 * The one polling helper: retries `check` until it neither throws nor returns
 * `false`, for state that no message announces (a TTL running out, a
 * reconnect, a counter). Returns what `check` returned. Bounded: after
 * `timeoutMs` the last error is thrown, or a timeout naming `what` when the
 * check only ever returned `false`. Not a timing assertion: only the outcome
 * is checked.
 */
export async function eventually<T>(
  check: () => Promise<T> | T,
  { timeoutMs = 10_000, intervalMs = 25, what = 'the condition' }: EventuallyOptions = {},
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      const result = await check();
      if (result !== false) return result as Exclude<T, false>;
      failure = new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    } catch (error) {
      failure = error;
    }
    if (Date.now() >= deadline) throw failure;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
