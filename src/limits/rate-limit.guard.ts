import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { VoraError } from '../common/vora-error';
import { GatewayConfig, LimitsConfig } from '../config/gateway-config';
import { isIngress } from '../http/route-config';
import { RATE_WINDOW_MS, RateLimitStore } from './rate-limit.store';

/**
 * The per-caller rate limits, checked after AccessGuard (registered after it,
 * so it runs after it) against the token's `sub`:
 * - client endpoints: RATE_LIMIT_PER_MINUTE requests;
 * - POST /events: INGRESS_RATE_LIMIT_PER_MINUTE *events*: a batch of n costs
 *   n (one event costs 1), counted as sent, before it is validated.
 * Routes without a caller (the probes, /metrics, CORS preflights; /docs is
 * not a Nest route at all) are never limited. Refusals are 429 with
 * Retry-After, the whole seconds until the caller's window ends.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limits: LimitsConfig;

  constructor(
    private readonly limiter: RateLimitStore,
    config: GatewayConfig,
  ) {
    this.limits = config.limits;
  }

  /** Synchronous for routes without a caller: Nest then skips a promise and a turn per request. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = request.caller;
    if (!caller) return true;
    return this.take(request, caller.sub);
  }

  private async take(request: FastifyRequest, sub: string): Promise<boolean> {
    const ingress = isIngress(request);
    const cost = ingress ? eventCount(request.body) : 1;
    const limit = ingress ? this.limits.ingressRatePerMinute : this.limits.ratePerMinute;
    const decision = await this.limiter.take(sub, ingress ? 'ingress' : 'api', cost, limit);
    if (decision.allowed) return true;

    const retryAfterS = Math.min(RATE_WINDOW_MS / 1000, Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
    const message = !ingress
      ? `rate limit exceeded: at most ${limit} requests per minute per caller; retry in ${retryAfterS} s`
      : cost > limit
        ? `a batch of ${cost} events is more than the ${limit} events per minute this caller may publish; send smaller batches`
        : `rate limit exceeded: at most ${limit} events per minute per caller; retry in ${retryAfterS} s`;
    throw new VoraError(HttpStatus.TOO_MANY_REQUESTS, message, { 'retry-after': String(retryAfterS) });
  }
}

/** What a POST /events body costs: its events (a batch is an array), at least 1 for anything else. */
function eventCount(body: unknown): number {
  return Array.isArray(body) ? Math.max(1, body.length) : 1;
}
