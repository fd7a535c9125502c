import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { VoraError } from '../common/vora-error';
import { ACCESS_RULE, AccessRule } from './access.decorator';
import { parseBearerHeader } from './bearer';
import { Caller } from './caller';
import { Access, MODE_SCOPE } from './modes';
import { invalidToken, REALM, TokenVerifier } from './token-verifier';

/**
 * The one global guard: every route is denied unless it declares `@Public()`
 * or `@Requires(...)`. Errors follow RFC 6750.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  /** Each handler's rule, read from its decorators once rather than per request. */
  private readonly rules = new WeakMap<object, AccessRule>();

  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  /** Synchronous where it can be (public routes, cached tokens): Nest then skips a promise and a turn per request. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const rule = this.ruleOf(context);
    if (rule.public) return true;

    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearerToken(request);
    if (!token) {
      throw new VoraError(HttpStatus.UNAUTHORIZED, 'an access token is required: send Authorization: Bearer <token>', {
        'www-authenticate': REALM,
      });
    }
    const cached = this.verifier.cachedCaller(token);
    if (cached) return this.admit(request, rule.allowed, cached);
    return this.verifier.verify(token).then((caller) => this.admit(request, rule.allowed, caller));
  }

  private admit(request: FastifyRequest, allowed: readonly Access[], caller: Caller): true {
    if (!allows(allowed, caller)) {
      const scopes = allowed.map((access) => MODE_SCOPE[access]).join(' ');
      throw new VoraError(HttpStatus.FORBIDDEN, `the access token has insufficient scope: one of ${scopes} is required`, {
        'www-authenticate': `${REALM}, error="insufficient_scope", scope="${scopes}"`,
      });
    }
    request.caller = caller;
    return true;
  }

  private ruleOf(context: ExecutionContext): AccessRule {
    const handler = context.getHandler();
    let rule = this.rules.get(handler);
    if (!rule) {
      rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler, context.getClass()]);
      if (!rule) throw new Error(`${context.getClass().name}.${handler.name} declares no access rule`);
      this.rules.set(handler, rule);
    }
    return rule;
  }
}

function allows(allowed: readonly Access[], caller: Caller): boolean {
  return allowed.some((access) =>
    access === 'platform' ? caller.scopes.has(MODE_SCOPE.platform) : caller.mode === access,
  );
}

/**
 * The token from the Authorization header or the `access_token` query
 * parameter (RFC 6750 section 2). Sending it in both is refused.
 */
export function bearerToken(request: FastifyRequest): string | undefined {
  const query = (request.query as Record<string, unknown> | undefined)?.access_token;
  const header = parseBearerHeader(request.headers.authorization);
  if (header.kind === 'malformed') throw invalidToken('the Authorization header must be Bearer followed by one token');
  const fromHeader = header.kind === 'token' ? header.token : undefined;
  if (fromHeader !== undefined && query !== undefined) {
    throw new VoraError(HttpStatus.BAD_REQUEST, 'send the access token in one place only, not in the header and the query', {
      'www-authenticate': `${REALM}, error="invalid_request", error_description="the token was sent in more than one place"`,
    });
  }
  if (query !== undefined && typeof query !== 'string') {
    throw new VoraError(HttpStatus.BAD_REQUEST, 'send the access token in one place only', {
      'www-authenticate': `${REALM}, error="invalid_request"`,
    });
  }
  return fromHeader ?? (query as string | undefined);
}
