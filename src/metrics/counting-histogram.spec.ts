import { Histogram, Registry } from 'prom-client';
import { CountingHistogram } from './counting-histogram';

describe('CountingHistogram', () => {
  const options = { name: 'vora_test_seconds', help: 'A test histogram', buckets: [0.001, 0.01, 0.1, 1] };
  const values = [0, 0.0005, 0.001, 0.0011, 0.05, 0.1, 0.7, 1, 3, 12.5];

  it("renders exactly as prom-client's Histogram fed the same values", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counting = new CountingHistogram({ ...options, registers: [ours] });
    const reference = new Histogram({ ...options, registers: [theirs] });
    for (const value of values) {
      counting.observe(value);
      reference.observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('vora_test_seconds_bucket{le="0.001"} 3\n');
  });

  it('starts from zero again when the registry is reset', async () => {
    const registry = new Registry();
    const counting = new CountingHistogram({ ...options, registers: [registry] });
    counting.observe(0.5);
    registry.resetMetrics();
    counting.observe(2);
    const text = await registry.metrics();
    expect(text).toContain('vora_test_seconds_bucket{le="1"} 0\n');
    expect(text).toContain('vora_test_seconds_bucket{le="+Inf"} 1\n');
    expect(text).toContain('vora_test_seconds_sum 2\n');
  });
});
