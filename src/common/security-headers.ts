import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

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

/**
 * Security headers on every answer, errors included. They are the same for
 * every request, so they are constants set by one hook: @fastify/helmet
 * rebuilt them for every request, and the browser-document set would cost
 * every API answer a dozen headers it has no use for.
 */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.headers(request.url.startsWith('/docs') ? DOCUMENT_HEADERS : API_HEADERS);
    done();
  });
}
