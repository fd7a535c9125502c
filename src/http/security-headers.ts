/**
 * What a JSON answer needs (the OWASP REST Security Cheat Sheet's set): no
 * framing, no content sniffing, HTTPS only, no reading from documents of
 * other sites, and no caching: answers carry credentials (the setup's
 * webSocketToken) and personal data (a caller's numbers). The API is called
 * from other origins (CORS_ORIGINS); it is not embedded as a resource.
 */
const API_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': `default-src 'none'; frame-ancestors 'none'`,
  'cross-origin-resource-policy': 'same-site',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/**
 * Swagger UI at /docs is a document a browser renders: helmet's defaults,
 * spelled out once. Its policy lets the page run: the bundle is served from
 * here, and it uses inline styles and data: images. No
 * `upgrade-insecure-requests`: the development server is plain HTTP, and TLS
 * ends at the proxy in front of it.
 */
const DOCUMENT_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    `default-src 'self'`,
    `base-uri 'self'`,
    `font-src 'self' https: data:`,
    `form-action 'self'`,
    `frame-ancestors 'none'`,
    `img-src 'self' data:`,
    `object-src 'none'`,
    `script-src 'self'`,
    `script-src-attr 'none'`,
    `style-src 'self' 'unsafe-inline'`,
    `connect-src 'self'`,
  ].join(';'),
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-site',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  // The legacy XSS auditor did more harm than good; helmet turns it off too.
  'x-xss-protection': '0',
};

/** A page of the gateway's own (the console, the AsyncAPI viewer): the document set with the page's policy. */
const pageHeaders = (policy: readonly string[]): Readonly<Record<string, string>> => ({
  ...DOCUMENT_HEADERS,
  'content-security-policy': policy.join(';'),
  'x-frame-options': 'DENY',
});

/** Nothing but its own script, styles and the gateway's REST and WebSocket endpoints: no inline code, no CDN. */
const CONSOLE_HEADERS = pageHeaders([
  `default-src 'none'`,
  `base-uri 'none'`,
  `form-action 'none'`,
  `frame-ancestors 'none'`,
  `img-src 'self' data:`,
  `script-src 'self'`,
  `style-src 'self'`,
  `connect-src 'self'`,
]);

/**
 * AsyncAPI's viewer validates the document in the browser with a parser that
 * compiles JSON Schemas to functions (Ajv): it needs 'unsafe-eval', and only
 * this page gets it. React sets inline styles; highlight.js needs no more.
 */
const ASYNCAPI_HEADERS = pageHeaders([
  `default-src 'none'`,
  `base-uri 'none'`,
  `form-action 'none'`,
  `frame-ancestors 'none'`,
  `img-src 'self' data:`,
  `font-src 'self' data:`,
  `script-src 'self' 'unsafe-eval'`,
  `style-src 'self' 'unsafe-inline'`,
  `connect-src 'self'`,
]);

const isPage = (url: string, page: string): boolean =>
  url === page || url.startsWith(`${page}/`) || url.startsWith(`${page}?`);

/**
 * Security headers for every answer, errors included (set by the edge's
 * one request hook, edge.ts). They are the same for every request, so they
 * are constants: @fastify/helmet rebuilt them for every request, and the
 * browser-document set would cost every API answer a dozen headers it has no use for.
 */
export function securityHeadersFor(url: string): Readonly<Record<string, string>> {
  if (url.startsWith('/docs')) return DOCUMENT_HEADERS;
  if (isPage(url, '/console')) return CONSOLE_HEADERS;
  if (isPage(url, '/asyncapi')) return ASYNCAPI_HEADERS;
  return API_HEADERS;
}
