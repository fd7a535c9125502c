import type { Registry } from 'prom-client';

/** One line of the exposition, as prom-client's registry reads it. */
interface Sample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/**
 * A Prometheus histogram without labels whose `observe` is a bucket search
 * and three additions, for a figure taken per delivered event: prom-client's
 * Histogram hashes its labels and validates every call (~0.4 µs, against
 * ~0.03 µs here; issue 7). It registers like any prom-client metric and is
 * rendered by the registry in the same format.
 */
export class CountingHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: Float64Array;
  /** Per bucket, not cumulative; the last one is +Inf. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(options: { name: string; help: string; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = options.name;
    this.help = options.help;
    this.bounds = Float64Array.from([...options.buckets].sort((a, b) => a - b));
    this.counts = new Float64Array(this.bounds.length + 1);
    // prom-client's registry takes any object that renders itself through get().
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  observe(value: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]) bucket++;
    this.counts[bucket]++;
    this.sum += value;
    this.count++;
  }

  /** The samples in prom-client's format, buckets cumulative as the exposition format wants them. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += this.counts[i];
      values.push({ metricName: bucket, labels: { le: bound }, value: cumulative });
    });
    values.push({ metricName: bucket, labels: { le: '+Inf' }, value: this.count });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
