import { http, RunningGateway, startGateway } from './support/gateway';

/** Security headers on every answer (an API set; helmet's defaults for Swagger UI), with Swagger UI still working (issue 6). */
describe('security headers', () => {
  let gateway: RunningGateway;
  beforeAll(async () => (gateway = await startGateway({})));
  afterAll(() => gateway.close());

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
