import type { FastifyRequest } from 'fastify';

/** Fastify route config (set with `@RouteConfig`) for routes that take the ingress body limit. */
export const INGRESS_ROUTE = { ingress: true } as const;

/** Whether the request's route was declared with INGRESS_ROUTE. */
export function isIngress(request: FastifyRequest): boolean {
  return (request.routeOptions?.config as { ingress?: boolean } | undefined)?.ingress === true;
}
