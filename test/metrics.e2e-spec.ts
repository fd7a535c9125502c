import { spawnSync } from 'node:child_process';
import { ALICE } from './support/fixtures';
import { freePort, http, publish, setupSession, startGateway, TestSocket, useGateway } from './support/harness';

/** One sample's value from Prometheus text, by metric name and exact label set. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/** Debian's promtool (package `prometheus`); .ci/run installs it. Missing, the test fails saying so. */
function promtool(args: string[], input: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      'promtool is not installed, and the metrics test needs it: `apt-get install prometheus` (Debian) puts it on the PATH; .ci/run installs it in CI',
    );
  }
  return run;
}

describe('/metrics (SPEC section 9)', () => {
  const { issuer, gateway } = useGateway({ EVENT_BUFFER_SIZE: '2' });

  it('counts requests, sockets, sessions, events, latency, resumes and closes in Prometheus text', async () => {
    const alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
    const token = await setupSession(gateway, alice, { identity: ALICE });
    const { socket } = await TestSocket.connect(gateway, { token });
    await publish(gateway, core, [1, 2, 3].map((n) => ({ event: 'PresenceChanged', identity: ALICE, data: { n } })));
    await socket.events(3);

    const open = await http(`${gateway.url}/metrics`);
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text: string = open.body;
    expect(sample(text, 'vora_sockets_open')).toBe(1);
    expect(sample(text, 'vora_sessions_opened_total')).toBe(1);
    expect(sample(text, 'vora_events_received_total', 'source="http"')).toBe(3);
    expect(sample(text, 'vora_events_buffered_total')).toBe(3);
    expect(sample(text, 'vora_events_dropped_from_buffers_total')).toBe(1);
    expect(sample(text, 'vora_events_delivered_total', 'kind="live"')).toBe(3);
    expect(sample(text, 'vora_delivery_latency_seconds_count')).toBe(3);
    expect(sample(text, 'vora_http_request_duration_seconds_count', 'method="POST",route="/identity/setup",status="200"')).toBe(1);
    expect(text).toContain('vora_process_resident_memory_bytes');

    // Resume from id 1 with a buffer of 2: event 2 is gone, so not recovered.
    await socket.close();
    const resumed = await TestSocket.connect(gateway, { token, lastEventId: 0 });
    expect(resumed.welcome.recovered).toBe(false);
    await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { method: 'POST', token: alice });
    expect((await resumed.socket.closed()).code).toBe(4000);

    const after: string = (await http(`${gateway.url}/metrics`)).body;
    expect(sample(after, 'vora_resumes_total', 'recovered="false"')).toBe(1);
    expect(sample(after, 'vora_socket_closes_total', 'code="4000"')).toBe(1);
    expect(sample(after, 'vora_sessions_ended_total', 'reason="logout"')).toBe(1);
    expect(sample(after, 'vora_events_delivered_total', 'kind="replay"')).toBe(2);
    expect(sample(after, 'vora_sockets_open')).toBe(0);
  });

  it('passes `promtool check metrics` (Prometheus naming and exposition rules)', async () => {
    const text: string = (await http(`${gateway.url}/metrics`)).body;
    expect(text).toContain('vora_nodejs_active_handles{');
    const check = promtool(['check', 'metrics'], text);
    expect({ status: check.status, output: `${check.stdout}${check.stderr}` }).toEqual({ status: 0, output: '' });
  });

  it('moves to METRICS_PORT, off the public port', async () => {
    const metricsPort = await freePort();
    const private_ = await startGateway({ ...issuer.env(), METRICS_PORT: String(metricsPort) });
    try {
      expect((await http(`${private_.url}/metrics`)).status).toBe(404);
      const scraped = await http(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.body).toContain('vora_sockets_open 0');
    } finally {
      await private_.close();
    }
  });
});
