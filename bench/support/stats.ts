/**
 * A latency histogram that client processes fill and the orchestrator merges:
 * 10 µs bins up to 100 ms, 1 ms bins up to 60 s. Fixed memory however many
 * events a run delivers, and cheap to send over IPC (only non-empty bins).
 */
const FINE_US = 10;
const FINE_BINS = 10_000; // 100 ms
const COARSE_BINS = 60_000; // 1 ms each, 100 ms .. 60.1 s

export type HistogramBins = Array<[bin: number, count: number]>;

export class Histogram {
  private readonly bins = new Uint32Array(FINE_BINS + COARSE_BINS + 1);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const value = ms < 0 ? 0 : ms;
    const fine = Math.floor((value * 1000) / FINE_US);
    const bin = fine < FINE_BINS ? fine : Math.min(FINE_BINS + Math.floor(value - 100), FINE_BINS + COARSE_BINS);
    this.bins[bin]++;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  /** Non-empty bins, for IPC. */
  toJSON(): { bins: HistogramBins; count: number; sum: number; max: number } {
    const bins: HistogramBins = [];
    for (let i = 0; i < this.bins.length; i++) if (this.bins[i]) bins.push([i, this.bins[i]]);
    return { bins, count: this.count, sum: this.sum, max: this.max };
  }

  merge(other: ReturnType<Histogram['toJSON']>): void {
    for (const [bin, count] of other.bins) this.bins[bin] += count;
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  /** The upper edge of the bin holding the p-th percentile, in ms. */
  percentile(p: number): number {
    if (!this.count) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= rank) return i < FINE_BINS ? ((i + 1) * FINE_US) / 1000 : 100 + (i - FINE_BINS + 1);
    }
    return this.max;
  }

  get mean(): number {
    return this.count ? this.sum / this.count : 0;
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes of one machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
}

/** Rounds for tables and JSON: 3 significant digits below 100, integers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}
