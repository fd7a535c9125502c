import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as Pino } from 'pino';
import { ClientAddresses } from '../http/client-address';
import { redactHeaders, redactUrl } from './redact';

/** Probes and scrapes every few seconds would drown the lines that matter. */
const isQuiet = (url: string): boolean => url.startsWith('/health/') || url.startsWith('/metrics');

/**
 * One line per answered request, with its id (request-id.ts), the caller's
 * `sub` when the access guard resolved one, and the client's address
 * (client-address.ts: behind a trusted proxy the client's, not the proxy's).
 * Written from the edge's response hook (http/edge.ts), so it also covers
 * what Nest never sees (unknown routes, refused URLs, preflights); at
 * `LOG_LEVEL=warn` and above only server errors are written. The logger's
 * destination is asynchronous (logger.ts): the line is queued, not written,
 * on the request's path.
 */
export class AccessLog {
  constructor(
    private readonly log: Pino,
    private readonly addresses: ClientAddresses,
  ) {}

  write(request: FastifyRequest, reply: FastifyReply): void {
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    if (!this.log.isLevelEnabled(level) || isQuiet(request.url)) return;
    this.log[level](
      {
        req: {
          id: request.id,
          method: request.method,
          url: redactUrl(request.url),
          remoteAddress: this.addresses.of(request.raw),
          headers: redactHeaders(request.headers),
        },
        res: { statusCode: reply.statusCode },
        responseTime: Math.round(reply.elapsedTime),
        sub: request.caller?.sub,
      },
      'request completed',
    );
  }
}
