/**
 * The gateway's whole configuration, read from the environment once at
 * start-up (see `loadConfig`). The class doubles as the injection token.
 */
export class GatewayConfig {
  /** Every NODE_ENV other than unset, `development` or `test`. */
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly store: StoreConfig;
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

/** Where sessions, subscriptions and buffers live: this process's memory, or the Redis at REDIS_URL (STORE). */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where Redis is: one server (REDIS_URL), a Redis Cluster reached through
 * seed nodes (REDIS_CLUSTER_NODES), or a master found through Sentinel
 * (REDIS_SENTINELS, REDIS_SENTINEL_MASTER). REDIS_USERNAME and
 * REDIS_PASSWORD are the data nodes' credentials for the last two (a URL
 * carries its own).
 */
export type RedisTopology =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisAddress[]; readonly username?: string; readonly password?: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisAddress[];
      readonly master: string;
      readonly username?: string;
      readonly password?: string;
    };

export type StoreConfig =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'redis';
      readonly topology: RedisTopology;
      /** Streams the core spreads its events over (`vora:ingress`, or `vora:ingress:{p}` when more than one). */
      readonly ingressPartitions: number;
    };

export interface LimitsConfig {
  /** Requests per caller (`sub`) per minute on the client endpoints. */
  readonly ratePerMinute: number;
  /** Events per platform caller per minute on POST /events. */
  readonly ingressRatePerMinute: number;
  readonly maxSocketsPerUser: number;
  readonly maxSocketsPerIp: number;
  /** WebSocket handshakes refused 401 per client address per minute before the address is refused 429. */
  readonly maxFailedHandshakesPerIp: number;
}

export interface OperationsConfig {
  /** Serve /metrics on this port instead of the public one (0: on the public port). */
  readonly metricsPort: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** The development issuer (no AUTH_ISSUER), or an external one, whose JWKS may be named (AUTH_JWKS_URI) or discovered. */
export type AuthConfig = AuthSettings &
  ({ readonly issuer?: undefined; readonly jwksUri?: undefined } | { readonly issuer: string; readonly jwksUri?: string });

interface AuthSettings {
  /** AUTH_ALLOW_HTTP: issuer and JWKS over plain http:// even in production. */
  readonly allowHttp: boolean;
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
  /** Open TCP connections (HTTP and WebSocket) one instance accepts (MAX_CONNECTIONS). */
  readonly maxConnections: number;
  readonly trustProxy: TrustProxy;
}

/**
 * Which TCP peers may name the client in X-Forwarded-For (TRUST_PROXY): none,
 * the nearest `hops` peers whoever they are, or the peers whose address is in
 * one of `ranges` (addresses and CIDRs, IPv4 or IPv6).
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'ranges'; readonly ranges: readonly string[] };

export interface SessionConfig {
  readonly maxSessionsPerUser: number;
  readonly idleTtlS: number;
  /** A session ends this long after its setup, whatever its sockets do (SESSION_MAX_LIFETIME_S). */
  readonly maxLifetimeS: number;
  /** How often open sockets' sessions are checked against the directory (SESSION_RECHECK_INTERVAL_S). */
  readonly recheckIntervalS: number;
}

export interface WebSocketConfig {
  readonly heartbeatIntervalMs: number;
  readonly maxPayloadBytes: number;
  readonly maxBufferedBytes: number;
  readonly allowedOrigins: readonly string[];
  readonly eventBufferSize: number;
  /** Messages a client may send at once (WS_MESSAGE_BURST) ... */
  readonly messageBurst: number;
  /** ... and then per second, on average (WS_MESSAGES_PER_SECOND). */
  readonly messagesPerSecond: number;
}

export interface HoldUpConfig {
  /** How long a woken mobile client has to answer `ready` (HOLDUP_TIMEOUT_MS). */
  readonly timeoutMs: number;
  readonly push: PushConfig;
  /** Where outcomes go besides the `vora:egress` stream (with Redis), when PLATFORM_CALLBACK_URL is set. */
  readonly callback?: SignedWebhookConfig;
}

export interface SignedWebhookConfig {
  readonly url: string;
  readonly secret: string;
}

/** PUSH_ADAPTER: nothing can wake a mobile app, or a push service behind a signed webhook. */
export type PushConfig = { readonly adapter: 'none' } | ({ readonly adapter: 'webhook' } & SignedWebhookConfig);

export const isDevIssuer = (config: GatewayConfig): boolean => config.auth.issuer === undefined;
