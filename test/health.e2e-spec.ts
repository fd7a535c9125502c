import { DrainState } from '../src/lifecycle/drain-state';
import { useClientApi } from './support/client-api';
import { eventually, expectError, http, useGateway } from './support/harness';

describe('client REST API', () => {
  const { gateway } = useClientApi();

  describe('health', () => {
    it('answers liveness with 204 and no body, without a token', async () => {
      const result = await http(`${gateway.url}/health/liveness`);
      expect(result.status).toBe(204);
      expect(result.body).toBeUndefined();
    });

    it('answers readiness with 204 and no body, without a token', async () => {
      const result = await http(`${gateway.url}/health/readiness`);
      expect(result.status).toBe(204);
      expect(result.body).toBeUndefined();
    });
  });
});

describe('readiness', () => {
  describe('draining for shutdown', () => {
    const { issuer, gateway } = useGateway();

    it('answers 503 naming shutdown, while liveness stays 204', async () => {
      expect((await http(`${gateway.url}/health/readiness`)).status).toBe(204);
      gateway.app.get(DrainState).begin();
      const result = await http(`${gateway.url}/health/readiness`);
      expectError(result, 503, 'not ready: shutdown (draining for shutdown)');
      expect(result.body.error).toBe('Service Unavailable');
      expect((await http(`${gateway.url}/health/liveness`)).status).toBe(204);
    });
  });

  describe('issuer keys never loaded', () => {
    const { issuer, gateway } = useGateway({}, { beforeStart: (issuer) => issuer.setDown(true) });

    it('answers 503 naming keys, while liveness stays 204', async () => {
      const result = await http(`${gateway.url}/health/readiness`);
      expectError(result, 503, 'not ready: keys (token issuer keys never loaded)');
      expect((await http(`${gateway.url}/health/liveness`)).status).toBe(204);
    });

    it('becomes ready once the issuer is back, without waiting for the periodic refresh', async () => {
      issuer.setDown(false);
      const ready = await eventually(async () => (await http(`${gateway.url}/health/readiness`)).status === 204, { timeoutMs: 10_000, intervalMs: 100 });
      expect(ready).toBe(true);
      expect((await http(`${gateway.url}/identity`, { token: await issuer.sign() })).status).toBe(200);
    });
  });
});
