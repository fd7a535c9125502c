/** Fastify route config (set with `@RouteConfig`) for routes that take the ingress body limit. */
export const INGRESS_ROUTE = { ingress: true } as const;
