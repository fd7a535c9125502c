import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../common/error-body';
import { MALFORMED_QUERY, malformedQuery } from '../common/well-formed';
import { hasUnframedBody, UNPARSABLE_REQUEST } from './client-errors';
import { Cors } from './cors';
import { securityHeadersFor } from './security-headers';
import { unservablePath } from './static-paths';

/** Requests received and not yet answered, as graceful shutdown counts them (a Set: an aborted request may be reported twice). */
export interface RequestsInFlight {
  add(request: FastifyRequest): unknown;
  delete(request: FastifyRequest): unknown;
}

/** Request duration in seconds by method, route pattern (not raw URL: identities must not become label values) and status. */
export type DurationObserver = (seconds: number, labels: readonly [method: string, route: string, status: string]) => void;

/** Writes a request's access log line once it is answered (logging/access-log.ts). */
export interface AccessLogWriter {
  write(request: FastifyRequest, reply: FastifyReply): void;
}

/** Swagger UI's files, the only static prefix. */
const STATIC_PREFIX = '/docs/';

/**
 * Everything every request goes through before and after its route, in
 * one request hook and one response hook: each Fastify hook is a step of
 * its own on every request, so the work of seven is done in two. On the way
 * in: security headers, the request id echoed, CORS headers, then the
 * refusals that must come before routing (an unframed body, a malformed
 * query, an unservable static path). On the way out: in-flight tracking,
 * the duration metric and the access log line.
 */
export class HttpEdge {
  private inFlight?: RequestsInFlight;
  private observeDuration?: DurationObserver;

  constructor(
    private readonly cors: Cors,
    private readonly accessLog: AccessLogWriter,
  ) {}

  /** The services that live in the application (graceful shutdown, metrics), known once it is created; no request arrives before. */
  attach(inFlight: RequestsInFlight, observeDuration: DurationObserver): void {
    this.inFlight = inFlight;
    this.observeDuration = observeDuration;
  }

  register(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      this.inFlight?.add(request);
      const url = request.url;
      reply.headers(securityHeadersFor(url));
      reply.header('x-request-id', request.id);
      if (this.cors.enabled) this.cors.addHeaders(request, reply);
      if (hasUnframedBody(request.headers)) return void sendError(reply, 400, UNPARSABLE_REQUEST, { connection: 'close' });
      if (malformedQuery(url)) return void sendError(reply, 400, MALFORMED_QUERY);
      const unservable = unservablePath(request.method, url, STATIC_PREFIX);
      if (unservable) return void sendError(reply, unservable[0], unservable[1]);
      done();
    });
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      this.inFlight?.delete(request);
      this.observeDuration?.(reply.elapsedTime / 1000, [request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode)]);
      this.accessLog.write(request, reply);
      done();
    });
    fastify.addHook('onRequestAbort', (request: FastifyRequest, done: () => void) => {
      this.inFlight?.delete(request);
      done();
    });
  }
}
