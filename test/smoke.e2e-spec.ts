import { ALICE, ALICE_FIXED } from './support/fixtures';
import { expectError, http, useGateway } from './support/harness';

describe('smoke', () => {
  const { issuer, gateway } = useGateway();

  it('serves GET /identity to a token of the external issuer', async () => {
    const res = await http(`${gateway.url}/identity`, { token: await issuer.sign({ sub: 'alice' }) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ identities: [ALICE, ALICE_FIXED] });
  });

  it('answers unknown routes with the error body', async () => {
    expectError(await http(`${gateway.url}/nope`), 404, 'no operation at GET /nope');
  });
});
