import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../common/error-body';

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'authorization, content-type, x-request-id';
/** Answer headers a browser script may read besides the CORS-safelisted ones: when to retry, and what to quote. */
const EXPOSED_HEADERS = 'retry-after, x-request-id';

/**
 * CORS for browser clients from CORS_ORIGINS. A stock CORS layer answers the
 * preflight itself with 204 and no body; the seed's `OPTIONS /identity`
 * answers 200 with a body, so preflights reach the routes and the edge's
 * request hook only adds the headers (`addHeaders`). With CORS on, every
 * answer depends on the request's Origin (the allowed one is echoed, others
 * get nothing), so every answer says `Vary: Origin`, or a shared cache could
 * hand one origin's answer to another.
 */
export class Cors {
  private readonly allowAny: boolean;
  private readonly allowed: ReadonlySet<string>;
  readonly enabled: boolean;

  constructor(origins: readonly string[]) {
    this.allowAny = origins.includes('*');
    this.allowed = new Set(origins);
    this.enabled = origins.length > 0;
  }

  addHeaders(request: FastifyRequest, reply: FastifyReply): void {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (!origin || !(this.allowAny || this.allowed.has(origin))) return;
    reply.header('access-control-allow-origin', origin);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      reply
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600');
    } else {
      reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    }
  }
}

/** Preflights for routes without an OPTIONS operation of their own. */
export function answerPreflights(fastify: FastifyInstance): void {
  fastify.route({
    method: 'OPTIONS',
    url: '/*',
    handler: async (request, reply) => {
      // This route is Fastify's, not Nest's: the exception filter never sees what it throws.
      if (!request.headers['access-control-request-method']) return sendError(reply, 404, `no operation at OPTIONS ${request.url.split('?')[0]}`);
      void reply.status(200).header('allow', ALLOWED_METHODS);
      return {};
    },
  });
}
