import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as Pino } from 'pino';
import { ClientAddresses } from '../http/client-address';
import { redactUrl } from './redact';

/** Probes and scrapes every few seconds would drown the lines that matter. */
const QUIET_PATHS = ['/health/', '/metrics'];

/**
 * One line per answered request, with its id (request-id.ts), the caller's
 * `sub` when the access guard resolved one, and the client's address
 * (client-address.ts: behind a trusted proxy the client's, not the proxy's).
 * Written from a Fastify hook, so it also covers what Nest never sees
 * (unknown routes, refused URLs, preflights); at `LOG_LEVEL=warn` and above
 * only server errors are written.
 */
export function registerAccessLog(fastify: FastifyInstance, log: Pino, addresses: ClientAddresses): void {
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    if (log.isLevelEnabled(level) && !QUIET_PATHS.some((path) => request.url.startsWith(path))) {
      log[level](
        {
          req: {
            id: request.id,
            method: request.method,
            url: redactUrl(request.url),
            remoteAddress: addresses.of(request.raw),
            headers: request.headers,
          },
          res: { statusCode: reply.statusCode },
          responseTime: Math.round(reply.elapsedTime),
          sub: request.caller?.sub,
        },
        'request completed',
      );
    }
    done();
  });
}
