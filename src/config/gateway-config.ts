/**
 * The gateway's whole configuration, read from the environment once at
 * start-up (see `loadConfig`). The class doubles as the injection token.
 */
export class GatewayConfig {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly store: 'memory' | 'redis';
  readonly redisUrl?: string;
  readonly directoryFile: string;
  readonly eventsFile: string;
  readonly auth: AuthConfig;
  readonly http: HttpConfig;
  readonly session: SessionConfig;
  readonly ws: WebSocketConfig;
  readonly holdUp: HoldUpConfig;
  readonly limits: LimitsConfig;
  readonly ops: OperationsConfig;
  /** Whether /console is served (CONSOLE; by default only with the development issuer). */
  readonly console: boolean;
}

export interface LimitsConfig {
  /** Requests per caller (`sub`) per minute on the client endpoints. */
  readonly ratePerMinute: number;
  /** Events per platform caller per minute on POST /events. */
  readonly ingressRatePerMinute: number;
  readonly maxSocketsPerUser: number;
  readonly maxSocketsPerIp: number;
}

export interface OperationsConfig {
  /** Serve /metrics on this port instead of the public one (0: on the public port). */
  readonly metricsPort: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface AuthConfig {
  /** Set when an external issuer is trusted; absent means the development issuer. */
  readonly issuer?: string;
  readonly jwksUri?: string;
  readonly audience: string;
  readonly clockSkewS: number;
  readonly acceptedTyp: readonly string[];
  /** Directory holding the development issuer's key (git-ignored). */
  readonly devKeyDir: string;
}

export interface HttpConfig {
  readonly clientBodyLimitBytes: number;
  readonly ingressMaxBodyBytes: number;
  readonly corsOrigins: readonly string[];
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly maxParamLength: number;
}

export interface SessionConfig {
  readonly maxSessionsPerUser: number;
  readonly idleTtlS: number;
}

export interface WebSocketConfig {
  readonly heartbeatIntervalMs: number;
  readonly maxPayloadBytes: number;
  readonly maxBufferedBytes: number;
  readonly allowedOrigins: readonly string[];
  readonly eventBufferSize: number;
}

export interface HoldUpConfig {
  /** How long a woken mobile client has to answer `ready` (HOLDUP_TIMEOUT_MS). */
  readonly timeoutMs: number;
  readonly push: { readonly adapter: 'webhook' | 'none'; readonly webhookUrl?: string; readonly secret?: string };
  /** Where outcomes go besides the `vora:egress` stream (with Redis). */
  readonly callback: { readonly url?: string; readonly secret?: string };
}

export const isDevIssuer = (config: GatewayConfig): boolean =>
  !config.auth.issuer && !config.auth.jwksUri;
