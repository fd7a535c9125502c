import { ALICE, BOB } from './support/fixtures';
import { eventually, http, LogCapture, publish, setupSession, TestSocket, useGateway } from './support/harness';

/**
 * JSON logs (issue 6): a request id on every line of a request, the caller's
 * sub, and no token of any kind anywhere, whichever way it was sent.
 */
describe('logs', () => {
  const logs = new LogCapture();
  const issued: string[] = [];
  const { issuer, gateway } = useGateway({ LOG_LEVEL: 'trace' }, { logStream: logs });

  const token = async (sub: string, scope = 'vora:user', expiresInS = 300) => {
    const signed = await issuer.sign({ sub, scope, expiresInS });
    issued.push(signed);
    return signed;
  };

  it('carries the request id (given or generated) and the caller on the lines of a request', async () => {
    const alice = await token('alice');
    const given = await http(`${gateway.url}/identity`, { token: alice, headers: { 'x-request-id': 'trace-me-42' } });
    expect(given.headers.get('x-request-id')).toBe('trace-me-42');
    const generated = await http(`${gateway.url}/identity`, { token: alice });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // A request id that could forge log lines is replaced.
    const forged = await http(`${gateway.url}/identity`, { token: alice, headers: { 'x-request-id': 'a"b' } });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const lines = logs.records.filter((record) => record.req?.id === 'trace-me-42');
    expect(lines.length).toBeGreaterThan(0);
    const completed = lines.find((record) => record.msg === 'request completed');
    expect(completed).toMatchObject({ sub: 'alice', res: { statusCode: 200 }, req: { method: 'GET', url: '/identity' } });
  });

  it('leaves probes and scrapes out of the access log, and names the context of every other line', async () => {
    await http(`${gateway.url}/health/liveness`);
    await http(`${gateway.url}/metrics`);
    await http(`${gateway.url}/identity`, { headers: { 'x-request-id': 'after-the-probes' } });

    const lines = logs.records;
    expect(lines.filter((record) => /^\/(health|metrics)/.test(record.req?.url ?? ''))).toEqual([]);
    expect(lines.find((record) => record.req?.id === 'after-the-probes')).toMatchObject({
      msg: 'request completed',
      res: { statusCode: 401 },
      req: { url: '/identity' },
    });
    // Nest's own lines (start-up here) keep the logger context they were written under.
    expect(lines.find((record) => record.context === 'RoutesResolver')).toBeDefined();
  });

  it('never writes an access token or a webSocketToken, wherever it was sent', async () => {
    const alice = await token('alice');
    const core = await token('core', 'vora:events:publish');
    const expired = await token('alice', 'vora:user', -120);

    await http(`${gateway.url}/identity?access_token=${alice}`);
    await http(`${gateway.url}/identity?access_token=${alice}`, { token: alice }); // two places: 400
    await http(`${gateway.url}/identity`, { token: expired });
    await http(`${gateway.url}/identity`, { token: `${alice}tampered` });
    const webSocketToken = await setupSession(gateway, alice, { identity: ALICE });
    issued.push(webSocketToken);
    const { socket } = await TestSocket.connect(gateway, { token: webSocketToken });
    await publish(gateway, core, { event: 'CallDelivered', identity: ALICE, data: { callId: 'log-1' } });
    await socket.events(1);
    await socket.close();
    await TestSocket.connect(gateway, { token: webSocketToken, tokenInHeader: true }).then(({ socket: s }) => s.close());
    await TestSocket.refused(gateway, { token: `${webSocketToken}x` });
    await http(`${gateway.url}/ws?token=${webSocketToken}`);
    await http(`${gateway.url}/logout/${encodeURIComponent(ALICE)}`, { method: 'POST', token: alice });
    await TestSocket.refused(gateway, { token: webSocketToken });

    expect(logs.lines.length).toBeGreaterThan(10);
    const text = logs.text;
    for (const secret of issued) {
      expect(text).not.toContain(secret);
      // Not even the signature alone.
      expect(text).not.toContain(secret.split('.').pop()!);
    }
    expect(text).toContain('access_token=[REDACTED]');
  });

  it('never writes a token whose query key is percent-encoded, as the gateway decodes it', async () => {
    const bob = await token('bob');
    const webSocketToken = await setupSession(gateway, bob, { identity: BOB });
    issued.push(webSocketToken);
    const requests: Array<[string, string, number]> = [
      // The gateway reads `access%5Ftoken` as access_token: the request is authenticated.
      ['encoded-access-token', `/identity?access%5Ftoken=${bob}`, 200],
      ['encoded-access-token-upper', `/identity?ACCESS%5ftoken=${bob}`, 401],
      ['encoded-token-on-rest', `/identity?%74oken=${webSocketToken}`, 401],
      ['encoded-token-on-ws', `/ws?%74oken=${webSocketToken}`, 426],
      ['spelled-out-token', `/ws?a=1&%74%6F%6B%65%6E=${webSocketToken}&b=2`, 426],
    ];
    for (const [requestId, path, status] of requests) {
      expect((await http(`${gateway.url}${path}`, { headers: { 'x-request-id': requestId } })).status).toBe(status);
    }
    // The socket takes the token under an encoded key too; upgrades have no access line, and leave no token.
    const { socket } = await TestSocket.connect(gateway, { query: `%74oken=${webSocketToken}` });
    await socket.close();

    const urls = await eventually(() => {
      const found = requests.map(([requestId]) => logs.records.find((r) => r.req?.id === requestId && r.msg === 'request completed')?.req.url);
      if (found.some((url) => url === undefined)) throw new Error('access lines missing');
      return found;
    });
    expect(urls).toEqual([
      '/identity?access%5Ftoken=[REDACTED]',
      '/identity?ACCESS%5ftoken=[REDACTED]',
      '/identity?%74oken=[REDACTED]',
      '/ws?%74oken=[REDACTED]',
      '/ws?a=1&%74%6F%6B%65%6E=[REDACTED]&b=2',
    ]);
    for (const secret of [bob, webSocketToken]) {
      expect(logs.text).not.toContain(secret);
      expect(logs.text).not.toContain(secret.split('.').pop()!);
    }
  });
});
