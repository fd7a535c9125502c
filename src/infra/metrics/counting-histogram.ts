import type { Registry } from 'prom-client';

/** One line of the exposition, as prom-client's registry reads it. */
interface Sample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  /** The series' own labels, rendered after `labels`. */
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The counts of one combination of label values. */
interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Per bucket, not cumulative; the last one is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram whose `observe` is a map lookup, a bucket search and
 * three additions, for figures taken per delivered event or per request:
 * prom-client's Histogram validates and hashes its labels on every call
 * (0.4 to 1.5 µs, against well under 0.1 µs here). It registers like
 * any prom-client metric and the registry renders it in the same format
 * (its spec compares the two).
 */
export class CountingHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly string[];
  private readonly bounds: Float64Array;
  private readonly series = new Map<string, Series>();

  constructor(options: {
    name: string;
    help: string;
    buckets: readonly number[];
    labelNames?: readonly string[];
    registers: readonly Registry[];
  }) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    this.bounds = Float64Array.from([...options.buckets].sort((a, b) => a - b));
    this.reset();
    // prom-client's registry takes any object that renders itself through get().
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** `labelValues` in the order of `labelNames`. */
  observe(value: number, labelValues: readonly string[] = []): void {
    const key = labelValues.length === 1 ? labelValues[0] : labelValues.join('\u0001');
    const series = this.series.get(key) ?? this.newSeries(key, labelValues);
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]) bucket++;
    series.counts[bucket]++;
    series.sum += value;
    series.count++;
  }

  /** The samples in prom-client's format, buckets cumulative as the exposition format wants them. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i];
        values.push({ metricName: bucket, labels: { le: bound }, sharedLabels: labels, value: cumulative });
      });
      values.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels: labels, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels: labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: {}, sharedLabels: labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** As prom-client: a histogram without labels shows its one series, at zero, before any observation. */
  reset(): void {
    this.series.clear();
    if (this.labelNames.length === 0) this.newSeries('', []);
  }

  private newSeries(key: string, labelValues: readonly string[]): Series {
    if (labelValues.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${labelValues.length}`);
    }
    const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, labelValues[i]]));
    const series: Series = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.series.set(key, series);
    return series;
  }
}
