import { eventually, faultTestsUnsupported, http, LogCapture, useGateway, useRedis } from './support/harness';

const DOWN = 'holdUp deadlines could not be checked';
const BACK = 'holdUp deadlines are checked again';

/** The deadline sweep (five a second) while Redis is down: two log lines, and a metric for the rest. */
describe('holdUp deadline sweeps during a Redis outage', () => {
  const logs = new LogCapture();
  const redis = useRedis();
  const { gateway } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url }), { issuer: false, logStream: logs });

  const linesWith = (text: string) => logs.records.filter((record) => String(record.msg).startsWith(text));
  const failedSweeps = async () => {
    const metrics: string = (await http(`${gateway.url}/metrics`)).body;
    return Number(metrics.match(/^vora_holdup_deadline_check_failures_total (\d+)$/m)?.[1]);
  };

  it('logs once when Redis goes, counts the failed sweeps, and logs once when it is back', async () => {
    const skip = faultTestsUnsupported(redis);
    if (skip) return console.warn(`Redis stop/start test ${skip}`);
    expect(await failedSweeps()).toBe(0);

    await redis.stop();
    await eventually(async () => expect(await failedSweeps()).toBeGreaterThanOrEqual(5), { timeoutMs: 20_000 });
    expect(linesWith(DOWN)).toEqual([
      expect.objectContaining({
        level: 40,
        context: 'HoldUp',
        msg: expect.stringMatching(/; retrying every 200 ms \(vora_holdup_deadline_check_failures_total counts the failures\)$/),
      }),
    ]);
    expect(linesWith(BACK)).toEqual([]);

    await redis.start();
    await eventually(() => expect(linesWith(BACK)).toHaveLength(1), { timeoutMs: 20_000, intervalMs: 100 });
    const failed = await failedSweeps();
    expect(linesWith(BACK)[0]).toMatchObject({ level: 30, context: 'HoldUp', msg: `${BACK}, after ${failed} failed sweep(s)` });
    expect(linesWith(DOWN)).toHaveLength(1);
  });
});
