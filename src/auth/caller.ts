import { ClientMode } from './modes';

/** Who is calling, as established by a verified access token. */
export interface Caller {
  readonly sub: string;
  /** Undefined when the token grants no client mode (e.g. the platform's service account). */
  readonly mode: ClientMode | undefined;
  readonly scopes: ReadonlySet<string>;
  /** `preferred_username` when the issuer sends one. */
  readonly username?: string;
}

/** The caller of a client route (`@Requires('user', 'manager')`): the guard admitted it in a client mode. */
export interface ClientCaller extends Caller {
  readonly mode: ClientMode;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}
