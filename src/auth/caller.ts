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

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}
