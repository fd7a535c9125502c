import { RunningGateway, startGateway, http, expectError } from './support/gateway';
import { TestIssuer } from './support/test-issuer';

describe('smoke', () => {
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  beforeAll(async () => {
    issuer = await TestIssuer.start();
    gateway = await startGateway(issuer.env());
  });
  afterAll(async () => {
    await gateway.close();
    await issuer.close();
  });

  it('serves GET /identity to a token of the external issuer', async () => {
    const res = await http(`${gateway.url}/identity`, { token: await issuer.sign({ sub: 'alice' }) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ identities: ['+905321110001', '+902121110001'] });
  });

  it('answers unknown routes with the error body', async () => {
    expectError(await http(`${gateway.url}/nope`), 404, 'no operation at GET /nope');
  });
});
