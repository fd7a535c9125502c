import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { RunningGateway, startGateway } from './support/gateway';
import { LogCapture } from './support/log-capture';

/** An AUTH_ISSUER that cannot be reached: the log says which URL and why, so the operator can fix it. */
describe('issuer unreachable at start-up', () => {
  let gateway: RunningGateway;
  let port: number;
  const logs = new LogCapture();

  beforeAll(async () => {
    port = await freePort(); // nothing listens there
    gateway = await startGateway({ AUTH_ISSUER: `http://127.0.0.1:${port}/realms/vora` }, { logStream: logs });
  });
  afterAll(() => gateway.close());

  it('logs the discovery URL and the cause of the failure', async () => {
    const url = `http://127.0.0.1:${port}/realms/vora/.well-known/openid-configuration`;
    const warning = await eventually(() => {
      const found = logs.records.find((record) => String(record.msg).startsWith('issuer keys not loaded yet'));
      expect(found).toBeDefined();
      return found!;
    });
    expect(warning).toMatchObject({
      level: 40,
      context: 'Jwks',
      msg: `issuer keys not loaded yet: GET ${url} failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('names the JWKS URL when AUTH_JWKS_URI skips discovery', async () => {
    const jwksLogs = new LogCapture();
    const jwksUri = `http://127.0.0.1:${port}/certs`;
    const other = await startGateway({ AUTH_ISSUER: 'https://issuer.example/realms/vora', AUTH_JWKS_URI: jwksUri }, { logStream: jwksLogs });
    try {
      await eventually(() =>
        expect(jwksLogs.records.map((record) => record.msg)).toContain(
          `issuer keys not loaded yet: GET ${jwksUri} failed: connect ECONNREFUSED 127.0.0.1:${port}`,
        ),
      );
    } finally {
      await other.close();
    }
  });
});
