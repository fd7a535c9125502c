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
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const value of values) {
      counting.observe(value);
      reference.observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('vora_test_seconds_bucket{le="0.001"} 3\n');
  });

  it("renders labelled series exactly as prom-client's Histogram, in the order they first appeared", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ['method', 'route', 'status'] as const;
    const counting = new CountingHistogram({ ...options, labelNames, registers: [ours] });
    const reference = new Histogram({ ...options, labelNames, registers: [theirs] });
    const requests: Array<[string, string, string, number]> = [
      ['GET', '/identity', '200', 0.0004],
      ['POST', '/identity/setup', '201', 0.02],
      ['GET', '/identity', '200', 0.003],
      ['GET', '/identity', '401', 0.0002],
      ['GET', 'unmatched', '404', 1.5],
    ];
    for (const [method, route, status, seconds] of requests) {
      counting.observe(seconds, [method, route, status]);
      reference.observe({ method, route, status }, seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('vora_test_seconds_bucket{le="0.01",method="GET",route="/identity",status="200"} 2\n');
  });

  it('refuses label values that do not match its label names', () => {
    const counting = new CountingHistogram({ ...options, labelNames: ['route'], registers: [new Registry()] });
    expect(() => counting.observe(1)).toThrow('vora_test_seconds takes 1 label values, got 0');
  });

  it('starts from zero again when the registry is reset', async () => {
    const registry = new Registry();
    const counting = new CountingHistogram({ ...options, registers: [registry] });
    counting.observe(0.5);
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('vora_test_seconds_count 0\n');
    counting.observe(2);
    const text = await registry.metrics();
    expect(text).toContain('vora_test_seconds_bucket{le="1"} 0\n');
    expect(text).toContain('vora_test_seconds_bucket{le="+Inf"} 1\n');
    expect(text).toContain('vora_test_seconds_sum 2\n');
  });
});
