import { useClientApi } from './support/client-api';
import { ALICE, ALICE_FIXED, CAROL, CAROL_FIXED, ORIGIN, OSCAR_FIXED } from './support/fixtures';
import { expectError, http } from './support/harness';

describe('client REST API', () => {
  const { gateway, token, get } = useClientApi();

  describe('GET /identity', () => {
    it('lists the numbers of a user', async () => {
      const result = await get('/identity');
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(result.body).toEqual({ identities: [ALICE, ALICE_FIXED] });
    });

    it('lists the numbers of a manager', async () => {
      const result = await get('/identity', 'carol', 'vora:manager');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: [CAROL, CAROL_FIXED] });
    });

    it('lists only the fixed number of an OTT caller', async () => {
      const result = await get('/identity', 'oscar', 'vora:ott');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: [OSCAR_FIXED] });
    });

    it('lists only the username of an administrator', async () => {
      const result = await get('/identity', 'erin', 'vora:admin');
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: ['erin.admin'] });
    });

    it('lists the preferred_username, else the sub, of an administrator without a directory entry', async () => {
      const named = await http(`${gateway.url}/identity`, { token: await token('root-1', 'vora:admin', { preferred_username: 'root' }) });
      expect(named.status).toBe(200);
      expect(named.body).toEqual({ identities: ['root'] });
      const unnamed = await get('/identity', 'root-1', 'vora:admin');
      expect(unnamed.body).toEqual({ identities: ['root-1'] });
    });

    it('answers 404 to a caller without a directory entry', async () => {
      expectError(await get('/identity', 'mallory'), 404, 'no VORA account is registered for user "mallory"');
      expectError(await get('/identity', 'mallory', 'vora:ott'), 404, 'no VORA account is registered for user "mallory"');
    });

    it('answers 401 without a token', async () => {
      const result = await http(`${gateway.url}/identity`);
      expectError(result, 401);
      expect(result.headers.get('www-authenticate')).toBe('Bearer realm="vora"');
    });
  });

  describe('OPTIONS /identity', () => {
    it('answers 200 with Allow and {} without a token', async () => {
      const result = await http(`${gateway.url}/identity`, { method: 'OPTIONS' });
      expect(result.status).toBe(200);
      expect(result.headers.get('allow')).toBe('GET, OPTIONS');
      expect(result.headers.get('content-type')).toMatch(/^application\/json/);
      expect(result.body).toEqual({});
      expect(result.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers a CORS preflight from an allowed origin with 200, the body and the CORS headers', async () => {
      const result = await http(`${gateway.url}/identity`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({});
      expect(result.headers.get('allow')).toBe('GET, OPTIONS');
      expect(result.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(result.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
      expect(result.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(result.headers.get('vary')).toMatch(/Origin/);
    });

    it('answers a preflight of another route from an allowed origin with 200 and CORS headers', async () => {
      const result = await http(`${gateway.url}/identity/setup`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(result.status).toBe(200);
      expect(result.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(result.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    });

    it('adds no CORS headers for a disallowed origin', async () => {
      const result = await http(`${gateway.url}/identity`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      expect(result.status).toBe(200);
      expect(result.body).toEqual({});
      for (const name of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers']) {
        expect(result.headers.get(name)).toBeNull();
      }
    });

    it('adds the allow-origin header to an actual request from an allowed origin only', async () => {
      const allowed = await http(`${gateway.url}/identity`, { token: await token('alice'), headers: { origin: ORIGIN } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      const refused = await http(`${gateway.url}/identity`, { token: await token('alice'), headers: { origin: 'https://evil.example' } });
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});
