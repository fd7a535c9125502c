import { useClientApi } from './support/client-api';
import { ALICE } from './support/fixtures';
import { expectError, http } from './support/harness';

describe('client REST API', () => {
  const { gateway, token, post } = useClientApi();

  describe('errors on every route', () => {
    it('answers an unknown route with 404 and the error body', async () => {
      expectError(await http(`${gateway.url}/nope`), 404, 'no operation at GET /nope');
      expectError(await http(`${gateway.url}/identity/setup`), 404, 'no operation at GET /identity/setup');
      expectError(await http(`${gateway.url}/identity`, { method: 'DELETE' }), 404, 'no operation at DELETE /identity');
    });

    it('answers OPTIONS on a route without an OPTIONS operation, outside a preflight, with 404', async () => {
      expectError(await http(`${gateway.url}/nope`, { method: 'OPTIONS' }), 404, 'no operation at OPTIONS /nope');
    });

    it('accepts application/json with a charset', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: JSON.stringify({ connectionType: 'WEB', identity: ALICE }),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect(result.status).toBe(200);
    });

    it('answers malformed JSON with 400', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: '{"connectionType": "WEB",',
        headers: { 'content-type': 'application/json' },
      });
      expectError(result, 400, 'the request body is not valid JSON');
      expect(result.body.error).toBe('Bad Request');
    });

    it('answers a declared but empty JSON body with 400', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      expectError(result, 400);
    });

    it('answers a POST without a body with 400', async () => {
      expectError(await post('/identity/setup', undefined), 400, 'a JSON object body is required');
    });

    it('answers another content type with 415', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'POST',
        token: await token('alice'),
        rawBody: JSON.stringify({ connectionType: 'WEB', identity: ALICE }),
        headers: { 'content-type': 'text/plain' },
      });
      expectError(result, 415, 'the request body must be application/json');
      expect(result.body.error).toBe('Unsupported Media Type');
    });

    it('answers a body over 16 KiB with 413', async () => {
      const result = await post('/identity/setup', { connectionType: 'WEB', identity: ALICE, padding: 'x'.repeat(17 * 1024) });
      expectError(result, 413, 'the request body is larger than this endpoint accepts (16 KiB for client operations)');
      expect(result.body.error).toBe('Payload Too Large');
    });

    it('accepts a body just under 16 KiB up to validation', async () => {
      const result = await post('/identity/setup', { connectionType: 'WEB', identity: ALICE, padding: 'x'.repeat(15 * 1024) });
      expectError(result, 400, 'invalid request body: unknown field "padding"');
    });

    it('answers __proto__ and constructor.prototype keys with 400', async () => {
      for (const rawBody of [
        '{"connectionType":"WEB","identity":"+905321110001","__proto__":{"holdUpMode":true}}',
        '{"connectionType":"WEB","identity":"+905321110001","constructor":{"prototype":{"holdUpMode":true}}}',
      ]) {
        const result = await http(`${gateway.url}/identity/setup`, {
          method: 'POST',
          token: await token('alice'),
          rawBody,
          headers: { 'content-type': 'application/json' },
        });
        expectError(result, 400, 'the request body contains a forbidden key (__proto__ or constructor)');
      }
      expect(({} as { holdUpMode?: boolean }).holdUpMode).toBeUndefined();
    });

    it('answers an array or scalar body with 400', async () => {
      expectError(await post('/identity/setup', [{ connectionType: 'WEB', identity: ALICE }]), 400, 'the request body must be a JSON object');
      expectError(await post('/identity/setup', 'WEB'), 400, 'the request body must be a JSON object');
      expectError(await post(`/identity/${ALICE}/eventSubscription`, [true]), 400, 'the request body must be a JSON object');
    });

    // The router answers these before any hook or Nest filter; frameworkErrors (src/app.ts) keeps the seed body.
    it('answers an over-long path parameter with 414 and the error body', async () => {
      const result = await http(`${gateway.url}/logout/+${'9'.repeat(300)}`, { method: 'POST', token: await token('alice') });
      expectError(result, 414);
    });

    it('answers a malformed percent-encoding in the path with 400 and the error body', async () => {
      const result = await http(`${gateway.url}/logout/%E0%A4%A`, { method: 'POST', token: await token('alice') });
      expectError(result, 400);
    });
  });
});
