import { isIP } from 'node:net';
import { GatewayConfig, RedisAddress, RedisTopology, TrustProxy } from './gateway-config';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

const ALL_TYP = ['at+jwt', 'application/at+jwt', 'JWT'];
/** The NODE_ENV values (unset included) that are not production: only these may run the development issuer. */
const DEVELOPMENT_NODE_ENVS = ['', 'development', 'test'];

/**
 * Reads and validates the environment into a GatewayConfig. Every problem is
 * collected so that one start-up attempt names every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const list = (name: string): string[] =>
    (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const url = (name: string): string | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    try {
      new URL(raw);
      return raw;
    } catch {
      problems.push(`${name} must be an absolute URL, got "${raw}"`);
      return undefined;
    }
  };

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    problems.push(`${name} must be "true" or "false", got "${raw}"`);
    return fallback;
  };

  // Only the development values are development: a typo or a stage name ("Production", "prod", "staging") is production.
  const nodeEnv = env.NODE_ENV ?? '';
  const production = !DEVELOPMENT_NODE_ENVS.includes(nodeEnv);
  const store = env.STORE ?? 'memory';
  if (store !== 'memory' && store !== 'redis') problems.push(`STORE must be "memory" or "redis", got "${store}"`);
  const redisUrl = url('REDIS_URL');
  // `localhost:6391` parses as a URL of scheme "localhost:", and the client would then quietly connect to :6379.
  if (redisUrl && !['redis:', 'rediss:'].includes(new URL(redisUrl).protocol)) {
    problems.push(`REDIS_URL must be a redis:// or rediss:// URL (e.g. redis://localhost:6379), got "${redisUrl}"`);
  }
  const addresses = (name: string): RedisAddress[] => {
    const found: RedisAddress[] = [];
    for (const entry of list(name)) {
      const address = parseAddress(entry);
      if (address) found.push(address);
      else problems.push(`${name} must be comma-separated host:port pairs (e.g. 10.0.0.1:6379,10.0.0.2:6379), got "${entry}"`);
    }
    return found;
  };
  const clusterNodes = addresses('REDIS_CLUSTER_NODES');
  const sentinels = addresses('REDIS_SENTINELS');
  const sentinelMaster = env.REDIS_SENTINEL_MASTER ?? '';
  const wheres = [redisUrl && 'REDIS_URL', clusterNodes.length && 'REDIS_CLUSTER_NODES', sentinels.length && 'REDIS_SENTINELS'].filter(Boolean);
  if (store === 'redis' && wheres.length === 0) {
    problems.push('STORE=redis needs one of REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (with REDIS_SENTINEL_MASTER)');
  }
  if (wheres.length > 1) problems.push(`set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS, got ${wheres.join(' and ')}`);
  if (sentinels.length && !sentinelMaster) problems.push('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the name the sentinels monitor');
  const credentials = {
    ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
    ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
  };
  const topology: RedisTopology | undefined = redisUrl
    ? { kind: 'single', url: redisUrl }
    : clusterNodes.length
      ? { kind: 'cluster', nodes: clusterNodes, ...credentials }
      : sentinels.length
        ? { kind: 'sentinel', sentinels, master: sentinelMaster, ...credentials }
        : undefined;

  const issuer = url('AUTH_ISSUER');
  const jwksUri = url('AUTH_JWKS_URI');
  if (production && !issuer && !jwksUri) {
    problems.push(
      `NODE_ENV=${nodeEnv} needs an external token issuer: set AUTH_ISSUER (and AUTH_AUDIENCE), ` +
        'or AUTH_JWKS_URI with AUTH_ISSUER; the development issuer runs only when NODE_ENV is unset, development or test',
    );
  }
  const allowHttp = bool('AUTH_ALLOW_HTTP', false);
  if (production && !allowHttp) {
    for (const [name, value] of [['AUTH_ISSUER', issuer], ['AUTH_JWKS_URI', jwksUri]] as const) {
      if (value && new URL(value).protocol !== 'https:') {
        problems.push(
          `${name} must be an https:// URL when NODE_ENV=${nodeEnv}, got "${value}"; ` +
            'set AUTH_ALLOW_HTTP=true only for an issuer on a trusted internal network',
        );
      }
    }
  }
  if (jwksUri && !issuer) {
    problems.push('AUTH_ISSUER is required with AUTH_JWKS_URI, so that the "iss" claim can be checked');
  }

  const acceptedTyp = env.AUTH_ACCEPTED_TYP ? list('AUTH_ACCEPTED_TYP') : ALL_TYP;
  const unknownTyp = acceptedTyp.filter((t) => !ALL_TYP.includes(t));
  if (unknownTyp.length || acceptedTyp.length === 0) {
    problems.push(`AUTH_ACCEPTED_TYP may only list ${ALL_TYP.join(', ')}; got "${env.AUTH_ACCEPTED_TYP}"`);
  }

  const pushWebhookUrl = url('PUSH_WEBHOOK_URL');
  const pushAdapter = env.PUSH_ADAPTER ?? (pushWebhookUrl ? 'webhook' : 'none');
  if (pushAdapter !== 'webhook' && pushAdapter !== 'none') {
    problems.push(`PUSH_ADAPTER must be "webhook" or "none", got "${pushAdapter}"`);
  }
  if (pushAdapter === 'webhook' && !pushWebhookUrl) problems.push('PUSH_WEBHOOK_URL is required when PUSH_ADAPTER=webhook');
  if (pushWebhookUrl && !env.PUSH_WEBHOOK_SECRET) {
    problems.push('PUSH_WEBHOOK_SECRET is required with PUSH_WEBHOOK_URL, so that the push service can check the signature');
  }
  const callbackUrl = url('PLATFORM_CALLBACK_URL');
  const callbackSecret = env.PLATFORM_CALLBACK_SECRET || env.PUSH_WEBHOOK_SECRET;
  if (callbackUrl && !callbackSecret) {
    problems.push('PLATFORM_CALLBACK_SECRET (or PUSH_WEBHOOK_SECRET) is required with PLATFORM_CALLBACK_URL');
  }

  const trustProxy = parseTrustProxy(env.TRUST_PROXY, problems);
  const consoleSetting = env.CONSOLE || undefined;
  if (consoleSetting !== undefined && consoleSetting !== 'on' && consoleSetting !== 'off') {
    problems.push(`CONSOLE must be "on" or "off", got "${consoleSetting}"`);
  }

  const logLevel = env.LOG_LEVEL ?? 'info';
  const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const config: GatewayConfig = {
    production,
    host: env.HOST ?? '0.0.0.0',
    port: int('PORT', 3000, 0, 65535),
    // Without a topology, STORE=redis is a problem above (loadConfig throws). A power of two is not needed: the partition is CRC32 mod P.
    store:
      store === 'redis' && topology
        ? { kind: 'redis', topology, ingressPartitions: int('INGRESS_PARTITIONS', 1, 1, 256) }
        : { kind: 'memory' },
    directoryFile: env.DIRECTORY_FILE ?? 'config/directory.json',
    eventsFile: env.EVENTS_FILE ?? 'config/events.json',
    auth: {
      // A JWKS without an issuer is a problem above (loadConfig throws): without one, the development issuer runs.
      ...(issuer ? { issuer, jwksUri } : { issuer: undefined, jwksUri: undefined }),
      allowHttp,
      audience: env.AUTH_AUDIENCE || 'vora-gateway',
      clockSkewS: int('AUTH_CLOCK_SKEW_S', 30, 0, 300),
      acceptedTyp,
      devKeyDir: env.DEV_KEY_DIR ?? '.data',
    },
    http: {
      clientBodyLimitBytes: 16 * 1024,
      ingressMaxBodyBytes: int('INGRESS_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
      corsOrigins: list('CORS_ORIGINS'),
      requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 30_000, 1000),
      headersTimeoutMs: int('HEADERS_TIMEOUT_MS', 10_000, 1000),
      maxParamLength: 128,
      maxConnections: int('MAX_CONNECTIONS', 50_000, 1),
      trustProxy,
    },
    session: {
      maxSessionsPerUser: int('MAX_SESSIONS_PER_USER', 10, 1, 10_000),
      idleTtlS: int('SESSION_IDLE_TTL_S', 3600, 1),
      maxLifetimeS: int('SESSION_MAX_LIFETIME_S', 86_400, 1),
      // SPEC section 3: a session that lost its right ends within 5 minutes at most.
      recheckIntervalS: int('SESSION_RECHECK_INTERVAL_S', 300, 1, 300),
    },
    ws: {
      heartbeatIntervalMs: int('HEARTBEAT_INTERVAL_MS', 25_000, 100),
      maxPayloadBytes: int('WS_MAX_PAYLOAD_BYTES', 65_536, 128),
      maxBufferedBytes: int('WS_MAX_BUFFERED_BYTES', 1024 * 1024, 1024),
      allowedOrigins: list('WS_ALLOWED_ORIGINS'),
      eventBufferSize: int('EVENT_BUFFER_SIZE', 1000, 1, 1_000_000),
      messageBurst: int('WS_MESSAGE_BURST', 100, 1, 1_000_000),
      messagesPerSecond: int('WS_MESSAGES_PER_SECOND', 20, 1, 1_000_000),
    },
    holdUp: {
      timeoutMs: int('HOLDUP_TIMEOUT_MS', 10_000, 100, 120_000),
      // With a problem in these, loadConfig throws below: a returned config has what its adapter needs.
      push:
        pushAdapter === 'webhook' && pushWebhookUrl && env.PUSH_WEBHOOK_SECRET
          ? { adapter: 'webhook', url: pushWebhookUrl, secret: env.PUSH_WEBHOOK_SECRET }
          : { adapter: 'none' },
      callback: callbackUrl && callbackSecret ? { url: callbackUrl, secret: callbackSecret } : undefined,
    },
    limits: {
      ratePerMinute: int('RATE_LIMIT_PER_MINUTE', 600, 1),
      ingressRatePerMinute: int('INGRESS_RATE_LIMIT_PER_MINUTE', 60_000, 1),
      maxSocketsPerUser: int('MAX_SOCKETS_PER_USER', 20, 1),
      maxSocketsPerIp: int('MAX_SOCKETS_PER_IP', 1000, 1),
      maxFailedHandshakesPerIp: int('MAX_FAILED_HANDSHAKES_PER_IP', 120, 1),
    },
    ops: {
      metricsPort: int('METRICS_PORT', 0, 0, 65535),
      shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
      logLevel: logLevel as GatewayConfig['ops']['logLevel'],
    },
    // The web console is a development tool first: on with the development issuer unless turned off.
    console: consoleSetting === undefined ? !issuer && !jwksUri : consoleSetting === 'on',
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/**
 * TRUST_PROXY: unset, empty or 0 trusts no one; a whole number trusts that
 * many hops; otherwise a comma-separated list of addresses and CIDRs.
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxy {
  const value = raw?.trim() ?? '';
  if (value === '') return { kind: 'none' };
  if (/^[0-9]+$/.test(value)) {
    const hops = Number(value);
    if (hops <= 100) return hops === 0 ? { kind: 'none' } : { kind: 'hops', hops };
    problems.push(`TRUST_PROXY as a hop count must be between 0 and 100, got "${raw}"`);
    return { kind: 'none' };
  }
  const ranges = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  const bad = ranges.filter((range) => !isAddressRange(range));
  if (bad.length) {
    problems.push(`TRUST_PROXY must be a hop count or a comma-separated list of IP addresses and CIDRs (10.0.0.0/8, fd00::/8); not: ${bad.join(', ')}`);
    return { kind: 'none' };
  }
  return { kind: 'ranges', ranges };
}

function isAddressRange(range: string): boolean {
  const [address, prefix, extra] = range.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** `host:port`, `[v6]:port`; undefined when it is not one. */
function parseAddress(entry: string): RedisAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:\[\]]+)):(\d{1,5})$/.exec(entry);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2], port };
}
