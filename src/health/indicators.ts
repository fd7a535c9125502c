import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { KeySource } from '../auth/key-source';
import { SessionStore } from '../session/session.store';
import { DrainState } from '../lifecycle/drain-state';

const STALL_MS = 5_000;
const HEAP_LIMIT_RATIO = 0.95;
const WINDOW_MS = 1_000;

/** The process itself: an event loop that stalls or a heap near its limit is not alive. */
@Injectable()
export class ProcessIndicator implements OnModuleDestroy {
  private readonly delay = monitorEventLoopDelay({ resolution: 20 });
  /** Starts in the past, so that the first probe reads both. */
  private windowStart = -Infinity;
  private heapRatio = 0;

  constructor() {
    this.delay.enable();
  }

  onModuleDestroy(): void {
    this.delay.disable();
  }

  /**
   * What makes the process not alive, if anything: a stall since the previous
   * window, or the heap as last read. Both are read at most once a second
   * (resetting the delay histogram and reading heap statistics cost more than
   * the rest of a probe), which is still far more often than probes come.
   */
  problem(): string | undefined {
    const maxDelayMs = this.delay.max / 1e6;
    const now = performance.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.delay.reset();
      const heap = getHeapStatistics();
      this.heapRatio = heap.used_heap_size / heap.heap_size_limit;
      this.windowStart = now;
    }
    if (maxDelayMs > STALL_MS) return `event loop stalled for ${Math.round(maxDelayMs)} ms`;
    if (this.heapRatio > HEAP_LIMIT_RATIO) return `heap at ${Math.round(this.heapRatio * 100)}% of its limit`;
    return undefined;
  }
}

/** The session store (Redis when scaled out) answers. */
@Injectable()
export class StoreIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly store: SessionStore,
  ) {}

  async check() {
    const indicator = this.indicators.check('store');
    const problem = await this.store.problem();
    return problem ? indicator.down({ message: problem }) : indicator.up();
  }
}

/** The token issuer's keys have been loaded at least once. */
@Injectable()
export class KeysIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly keys: KeySource,
  ) {}

  check() {
    const indicator = this.indicators.check('keys');
    return this.keys.isReady() ? indicator.up() : indicator.down({ message: 'token issuer keys never loaded' });
  }
}

@Injectable()
export class DrainIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly drain: DrainState,
  ) {}

  check() {
    const indicator = this.indicators.check('shutdown');
    return this.drain.isDraining ? indicator.down({ message: 'draining for shutdown' }) : indicator.up();
  }
}
