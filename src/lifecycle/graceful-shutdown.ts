import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DrainState } from './drain-state';

const POLL_MS = 20;

/**
 * The first half of a graceful stop (SIGTERM): readiness fails at once, no new
 * socket or TCP connection is accepted, and requests in flight finish. The
 * application's own close then closes sockets with 1001 (after the events
 * those requests accepted were written to them) and the stores.
 */
@Injectable()
export class GracefulShutdown {
  private readonly log = new Logger('Shutdown');
  /** Requests received and not yet answered, kept by the HTTP edge (http/edge.ts; a Set: an aborted request may be reported twice). */
  readonly inFlight = new Set<FastifyRequest>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly drainState: DrainState,
  ) {}

  /** Resolves once no request is in flight, or at the deadline. */
  async drain(deadline: number): Promise<void> {
    this.drainState.begin();
    // Stops the listener only; Fastify's own close later tolerates the server being closed already.
    this.adapterHost.httpAdapter.getHttpServer().close();
    this.log.log(`draining: ${this.inFlight.size} request(s) in flight`);
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (this.inFlight.size > 0) this.log.warn(`${this.inFlight.size} request(s) still in flight at the shutdown deadline`);
  }
}
