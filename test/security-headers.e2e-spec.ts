import { ALICE } from './support/fixtures';
import { http, useGateway } from './support/harness';

/** Security headers on every answer (an API set; helmet's defaults for Swagger UI), with Swagger UI still working (issue 6). */
describe('security headers', () => {
  const { gateway } = useGateway({}, { issuer: false });

  it('are set on API answers, errors included', async () => {
    for (const result of [await http(`${gateway.url}/identity`), await http(`${gateway.url}/nope`)]) {
      expect(result.headers.get('x-content-type-options')).toBe('nosniff');
      expect(result.headers.get('x-frame-options')).toBe('DENY');
      expect(result.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(result.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(result.headers.get('cross-origin-resource-policy')).toBe('same-site');
      expect(result.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('let Swagger UI load its own scripts and styles', async () => {
    const page = await fetch(`${gateway.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="\.\/docs\/([^"]+)"/g)].map((m) => m[1]);
    expect(assets).toEqual(expect.arrayContaining(['swagger-ui-bundle.js', 'swagger-ui-init.js']));
    for (const asset of assets) {
      const response = await fetch(`${gateway.url}/docs/${asset}`);
      expect(response.status).toBe(200);
      // Read to the end: an unread response keeps its connection busy, and close() waits for it.
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    // Inline scripts would be blocked by this policy: the page must have none.
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
  });
});

/** Answers that carry credentials or personal data are never stored by a cache (issue 14). */
describe('caching of API answers', () => {
  const { issuer, gateway } = useGateway();

  it('forbids storing the setup answer, which carries the webSocketToken, and every other API answer', async () => {
    const token = await issuer.sign({ sub: 'alice' });
    const setup = await http(`${gateway.url}/identity/setup`, { token, body: { connectionType: 'WEB', identity: ALICE } });
    expect(setup.status).toBe(200);
    expect(setup.body.webSocketToken).toEqual(expect.any(String));
    expect(setup.headers.get('cache-control')).toBe('no-store');
    for (const result of [
      await http(`${gateway.url}/identity`, { token }),
      await http(`${gateway.url}/identity`, { method: 'OPTIONS' }),
      await http(`${gateway.url}/identity`),
      await http(`${gateway.url}/nope`),
    ]) {
      expect(result.headers.get('cache-control')).toBe('no-store');
    }
  });
});

/** CORS answers (CORS_ORIGINS) say what they vary on and which headers a page may read (issue 14). */
describe('CORS answer headers', () => {
  const ORIGIN = 'https://app.vora.example';
  const { issuer, gateway } = useGateway({ CORS_ORIGINS: ORIGIN, RATE_LIMIT_PER_MINUTE: '1' });
  const { gateway: plain } = useGateway({}, { issuer });

  it('say Vary: Origin on every answer when CORS is on: the allowed origin, another origin, and none', async () => {
    const token = await issuer.sign({ sub: 'bob' });
    for (const headers of [{ origin: ORIGIN }, { origin: 'https://evil.example' }, {}] as Array<Record<string, string>>) {
      expect((await http(`${gateway.url}/identity/setup`, { method: 'OPTIONS', headers: { ...headers, 'access-control-request-method': 'POST' } })).headers.get('vary')).toBe('Origin');
      expect((await http(`${gateway.url}/health/liveness`, { headers })).headers.get('vary')).toBe('Origin');
      expect((await http(`${gateway.url}/nope`, { headers, token })).headers.get('vary')).toBe('Origin');
    }
    // Without CORS_ORIGINS nothing depends on Origin.
    expect((await http(`${plain.url}/identity`, { headers: { origin: ORIGIN } })).headers.get('vary')).toBeNull();
  });

  it('expose Retry-After and X-Request-Id to the allowed origin, on answers and refusals alike', async () => {
    const token = await issuer.sign({ sub: 'carol' });
    const answer = await http(`${gateway.url}/identity`, { token, headers: { origin: ORIGIN } });
    expect(answer.status).toBe(200);
    const refusal = await http(`${gateway.url}/identity`, { token, headers: { origin: ORIGIN } });
    expect(refusal.status).toBe(429);
    expect(refusal.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    for (const result of [answer, refusal]) {
      expect(result.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(result.headers.get('access-control-expose-headers')).toBe('retry-after, x-request-id');
    }
    expect((await http(`${gateway.url}/identity`, { token, headers: { origin: 'https://evil.example' } })).headers.get('access-control-expose-headers')).toBeNull();
  });
});
