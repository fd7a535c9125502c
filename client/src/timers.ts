/**
 * The host's timers, looked up on each call (so that test clocks replacing
 * them are honoured), without the DOM or Node typings: the library builds
 * against plain ES2020.
 */
export type Timer = { readonly __timer: unique symbol };

const host = globalThis as unknown as {
  setTimeout(handler: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
};

export const startTimer = (handler: () => void, ms: number): Timer => host.setTimeout(handler, ms);
export const stopTimer = (timer: Timer | undefined): void => host.clearTimeout(timer);
