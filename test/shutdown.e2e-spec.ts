import { connect } from 'node:net';
import { GracefulShutdown } from '../src/lifecycle/graceful-shutdown';
import { ALICE } from './support/fixtures';
import { eventually, GatewayProcess, setupSession, startGateway, TestSocket, useIssuer } from './support/harness';

describe('graceful shutdown (SIGTERM)', () => {
  const issuer = useIssuer();

  it('fails readiness at once when draining begins', async () => {
    const gateway = await startGateway(issuer.env());
    try {
      await gateway.app.get(GracefulShutdown).drain(Date.now() + 1_000);
      const fastify = gateway.app.getHttpAdapter().getInstance();
      const readiness = await fastify.inject({ method: 'GET', url: '/health/readiness' });
      expect(readiness.statusCode).toBe(503);
      expect(JSON.parse(readiness.body)).toMatchObject({ status: '503', message: 'not ready: shutdown (draining for shutdown)' });
      expect((await fastify.inject({ method: 'GET', url: '/health/liveness' })).statusCode).toBe(204);
    } finally {
      await gateway.close();
    }
  });

  it('refuses new connections, finishes the request in flight, delivers its events, closes sockets with 1001 and exits 0', async () => {
    const gateway = await GatewayProcess.start({ ...issuer.env(), SHUTDOWN_TIMEOUT_MS: '8000' });
    try {
      const alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
      const core = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
      const token = await setupSession(gateway, alice, { identity: ALICE });
      const { socket } = await TestSocket.connect(gateway.wsUrl, { token });

      // A platform request in flight: headers and half of the body sent before SIGTERM.
      const body = JSON.stringify({ event: 'CallDelivered', identity: ALICE, data: { callId: 'last-call' } });
      const inFlight = connect(gateway.port, '127.0.0.1');
      let answer = '';
      inFlight.on('data', (chunk) => (answer += chunk));
      await new Promise((resolve) => inFlight.once('connect', resolve));
      inFlight.write(
        `POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${core}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the request reach the gateway first

      const exited = gateway.kill('SIGTERM');
      await eventually(
        () =>
          new Promise<void>((resolve, reject) => {
            const probe = connect(gateway.port, '127.0.0.1');
            probe.once('connect', () => {
              probe.destroy();
              reject(new Error('a new connection was accepted while draining'));
            });
            probe.once('error', () => resolve());
          }),
        { timeoutMs: 5_000 },
      );

      inFlight.write(body.slice(10));
      await eventually(() => expect(answer).toMatch(/^HTTP\/1\.1 202 /), { timeoutMs: 5_000 });
      expect(await socket.nextMatching((m) => m.type === 'event')).toMatchObject({ event: 'CallDelivered', data: { callId: 'last-call' } });
      expect((await socket.closed(5_000)).code).toBe(1001);
      expect(await exited).toBe(0);
      inFlight.destroy();
    } finally {
      await gateway.kill();
    }
  });
});

describe('access log on graceful shutdown', () => {
  const issuer = useIssuer();

  it('writes the line of every request answered before SIGTERM, though lines are written off the request path', async () => {
    const gateway = await GatewayProcess.start({ ...issuer.env(), LOG_LEVEL: 'info' });
    try {
      const ids = Array.from({ length: 200 }, (_, i) => `before-sigterm-${i}`);
      // Twenty at a time, answered (401: no token) before the signal; the lines may still be queued.
      for (let start = 0; start < ids.length; start += 20) {
        await Promise.all(
          ids.slice(start, start + 20).map(async (id) => {
            const response = await fetch(`${gateway.url}/identity`, { headers: { 'x-request-id': id } });
            expect(response.status).toBe(401);
            await response.arrayBuffer();
          }),
        );
      }
      expect(await gateway.kill('SIGTERM')).toBe(0);

      const logged = new Set(
        gateway.output
          .join('')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { msg?: string; req?: { id?: string } })
          .filter((record) => record.msg === 'request completed')
          .map((record) => record.req?.id),
      );
      expect(ids.filter((id) => !logged.has(id))).toEqual([]);
    } finally {
      await gateway.kill();
    }
  });
});
