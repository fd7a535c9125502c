import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Caller, ClientCaller } from './caller';
import { Access } from './modes';

export const ACCESS_RULE = 'vora:access';

export type AccessRule = { readonly public: true } | { readonly public: false; readonly allowed: readonly Access[] };

/** The route needs no token: probes, docs, CORS preflight. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_RULE, { public: true });

/**
 * The route needs a valid access token granting one of these modes. The same
 * declaration feeds the guard and the OpenAPI security requirement.
 */
export const Requires = (...allowed: Access[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(ACCESS_RULE, { public: false, allowed }), ApiBearerAuth('security_auth'));

/** The verified caller. Fails loudly if the guard did not run for this route. */
export const CurrentCaller = createParamDecorator((_: unknown, context: ExecutionContext): Caller => {
  const caller = context.switchToHttp().getRequest<FastifyRequest>().caller;
  if (!caller) throw new Error('CurrentCaller used on a route the access guard did not authenticate');
  return caller;
});

/**
 * The verified caller of a client route, which always has a mode. Fails
 * loudly if the guard did not run, or the route also admits the platform.
 */
export const CurrentClient = createParamDecorator((_: unknown, context: ExecutionContext): ClientCaller => {
  const caller = context.switchToHttp().getRequest<FastifyRequest>().caller;
  if (!caller) throw new Error('CurrentClient used on a route the access guard did not authenticate');
  if (!isClient(caller)) throw new Error('CurrentClient used on a route that admits callers without a client mode');
  return caller;
});

const isClient = (caller: Caller): caller is ClientCaller => caller.mode !== undefined;
