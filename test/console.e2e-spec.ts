import { loadConfig } from '../src/config/load-config';
import { ALICE, ALICE_FIXED, CAROL, CAROL_FIXED } from './support/fixtures';
import { expectError, http, startGateway, useGateway, useIssuer } from './support/harness';

const CONSOLE_POLICY = [
  `default-src 'none'`,
  `base-uri 'none'`,
  `form-action 'none'`,
  `frame-ancestors 'none'`,
  `img-src 'self' data:`,
  `script-src 'self'`,
  `style-src 'self'`,
  `connect-src 'self'`,
].join(';');

/** /console and the development issuer's sign-in routes (SPEC section 11); the page itself runs in test/browser.e2e-spec.ts. */
describe('the web console', () => {
  describe('with the development issuer', () => {
    const { gateway } = useGateway({}, { issuer: false });

    it('serves the page and its bundle under a policy with no inline code and no other origin', async () => {
      const page = await fetch(`${gateway.url}/console`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toBe(CONSOLE_POLICY);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      const html = await page.text();
      expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
      expect(html).not.toMatch(/ on[a-z]+=/);
      expect(html).not.toMatch(/(src|href)="https?:/);
      for (const [asset, type] of [['console.js', 'text/javascript'], ['console.css', 'text/css']]) {
        const response = await fetch(`${gateway.url}/console/${asset}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe(`${type}; charset=utf-8`);
        expect(response.headers.get('content-security-policy')).toBe(CONSOLE_POLICY);
        expect((await response.text()).length).toBeGreaterThan(1000);
      }
    });

    it('lists the sample users with the scope that fits each', async () => {
      const result = await http(`${gateway.url}/dev-issuer/users`);
      expect(result.status).toBe(200);
      const bySub = Object.fromEntries(result.body.users.map((user: any) => [user.sub, user]));
      expect(bySub.alice).toEqual({ sub: 'alice', username: 'alice', identities: [ALICE, ALICE_FIXED], scope: 'vora:user' });
      expect(bySub.carol.scope).toBe('vora:manager');
      expect(bySub.erin).toMatchObject({ username: 'erin.admin', identities: [], scope: 'vora:admin' });
    });

    it('mints a token the gateway accepts, for the scopes it knows', async () => {
      const minted = await http(`${gateway.url}/dev-issuer/token`, { body: { sub: 'carol', scope: 'vora:manager' } });
      expect(minted.status).toBe(200);
      expect(minted.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
      const identities = await http(`${gateway.url}/identity`, { token: minted.body.access_token });
      expect(identities.body).toEqual({ identities: [CAROL, CAROL_FIXED] });

      expectError(await http(`${gateway.url}/dev-issuer/token`, { body: { sub: 'carol', scope: 'vora:root' } }), 400, 'unknown scopes: vora:root');
      expectError(await http(`${gateway.url}/dev-issuer/token`, { body: { sub: 'carol', scope: 'openid' } }), 400, /scope must be space-separated vora: scopes/);
      expectError(await http(`${gateway.url}/dev-issuer/token`, { body: { sub: 'carol', scope: 'vora:user', ttl: 99999 } }), 400, /unknown field "ttl"|ttl/);
    });

    it('stays off with CONSOLE=off', async () => {
      const off = await startGateway({ CONSOLE: 'off' });
      try {
        expectError(await http(`${off.url}/console`), 404);
        expectError(await http(`${off.url}/console/console.js`), 404);
      } finally {
        await off.close();
      }
    });
  });

  describe('with an external issuer', () => {
    const issuer = useIssuer();

    it('is off unless CONSOLE=on, and never mints tokens', async () => {
      const gateway = await startGateway(issuer.env());
      const on = await startGateway({ ...issuer.env(), CONSOLE: 'on' });
      try {
        expectError(await http(`${gateway.url}/console`), 404);
        expect((await http(`${on.url}/console`)).status).toBe(200);
        for (const url of [gateway.url, on.url]) {
          expectError(await http(`${url}/dev-issuer/users`), 404);
          expectError(await http(`${url}/dev-issuer/token`, { body: { sub: 'alice', scope: 'vora:user' } }), 404);
        }
      } finally {
        await Promise.all([gateway.close(), on.close()]);
      }
    });
  });

  it('CONSOLE is on or off; production leaves it off by default', () => {
    expect(() => loadConfig({ CONSOLE: 'yes' })).toThrow('CONSOLE must be "on" or "off", got "yes"');
    expect(loadConfig({}).console).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_ISSUER: 'https://issuer.example' }).console).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_ISSUER: 'https://issuer.example', CONSOLE: 'on' }).console).toBe(true);
  });
});
