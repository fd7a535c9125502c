import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The Content-Security-Policy lets Swagger UI at /docs run: its bundle is
 * served from here, and it uses inline styles and data: images. No
 * `upgrade-insecure-requests`: the development server is plain HTTP, and TLS
 * ends at the proxy in front of it.
 */
const CONTENT_SECURITY_POLICY = [
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
].join(';');

/**
 * Helmet's defaults, spelled out once: the answer is the same for every
 * request, so building it per request (as @fastify/helmet does) only costs.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'cross-origin-opener-policy': 'same-origin',
  // The API is called from other origins (CORS_ORIGINS); it is not embedded as a resource.
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

/** Security headers on every answer, errors included. */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.headers(SECURITY_HEADERS);
    done();
  });
}
