import { isDevIssuer } from './gateway-config';
import { ConfigError, loadConfig } from './load-config';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      production: false,
      host: '0.0.0.0',
      port: 3000,
      store: { kind: 'memory' },
      directoryFile: 'config/directory.json',
      eventsFile: 'config/events.json',
      auth: {
        issuer: undefined,
        jwksUri: undefined,
        audience: 'vora-gateway',
        clockSkewS: 30,
        acceptedTyp: ['at+jwt', 'application/at+jwt', 'JWT'],
        devKeyDir: '.data',
      },
      http: { clientBodyLimitBytes: 16 * 1024, ingressMaxBodyBytes: 1024 * 1024, corsOrigins: [] },
      session: { maxSessionsPerUser: 10, idleTtlS: 3600, maxLifetimeS: 86_400, recheckIntervalS: 300 },
      ws: {
        heartbeatIntervalMs: 25_000,
        maxPayloadBytes: 65_536,
        maxBufferedBytes: 1024 * 1024,
        allowedOrigins: [],
        eventBufferSize: 1000,
        messageBurst: 100,
        messagesPerSecond: 20,
      },
    });
  });

  it('reads the variables it is given', () => {
    const config = loadConfig({
      PORT: '8080',
      AUTH_ISSUER: 'https://sso.vora.example/realms/vora',
      AUTH_AUDIENCE: 'vora-api',
      AUTH_CLOCK_SKEW_S: '5',
      AUTH_ACCEPTED_TYP: 'at+jwt, application/at+jwt',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      MAX_SESSIONS_PER_USER: '2',
      SESSION_IDLE_TTL_S: '60',
      SESSION_MAX_LIFETIME_S: '7200',
      SESSION_RECHECK_INTERVAL_S: '30',
      WS_MESSAGE_BURST: '10',
      WS_MESSAGES_PER_SECOND: '2',
      STORE: 'redis',
      REDIS_URL: 'redis://localhost:6379',
    });
    expect(config.port).toBe(8080);
    expect(config.auth).toMatchObject({
      issuer: 'https://sso.vora.example/realms/vora',
      audience: 'vora-api',
      clockSkewS: 5,
      acceptedTyp: ['at+jwt', 'application/at+jwt'],
    });
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.session).toEqual({ maxSessionsPerUser: 2, idleTtlS: 60, maxLifetimeS: 7200, recheckIntervalS: 30 });
    expect(config.ws).toMatchObject({ messageBurst: 10, messagesPerSecond: 2 });
    expect(config.store).toEqual({ kind: 'redis', topology: { kind: 'single', url: 'redis://localhost:6379' }, ingressPartitions: 1 });
  });

  it('treats empty values as unset', () => {
    const config = loadConfig({ PORT: '', AUTH_AUDIENCE: '', AUTH_ISSUER: '' });
    expect(config.port).toBe(3000);
    expect(config.auth.audience).toBe('vora-gateway');
    expect(config.auth.issuer).toBeUndefined();
  });

  describe('production', () => {
    it('refuses to start without an issuer and says what to set', () => {
      expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
      expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_ISSUER/);
    });

    it('starts with AUTH_ISSUER', () => {
      const config = loadConfig({ NODE_ENV: 'production', AUTH_ISSUER: 'https://sso.vora.example' });
      expect(config.production).toBe(true);
      expect(config.auth.issuer).toBe('https://sso.vora.example');
    });

    it.each(['Production', 'prod', 'staging', 'PRODUCTION', ' production', 'dev', 'Development', 'TEST'])(
      'treats NODE_ENV=%j as production: no development issuer, and says what to set',
      (nodeEnv) => {
        expect(problemsOf({ NODE_ENV: nodeEnv })).toEqual([
          `NODE_ENV=${nodeEnv} needs an external token issuer: set AUTH_ISSUER (and AUTH_AUDIENCE), ` +
            'or AUTH_JWKS_URI with AUTH_ISSUER; the development issuer runs only when NODE_ENV is unset, development or test',
        ]);
        const config = loadConfig({ NODE_ENV: nodeEnv, AUTH_ISSUER: 'https://sso.vora.example' });
        expect(config.production).toBe(true);
        expect(isDevIssuer(config)).toBe(false);
      },
    );

    it.each([
      ['unset', undefined],
      ['empty', ''],
      ['development', 'development'],
      ['test', 'test'],
    ])('runs the development issuer with NODE_ENV %s', (_name, nodeEnv) => {
      const config = loadConfig(nodeEnv === undefined ? {} : { NODE_ENV: nodeEnv });
      expect(config.production).toBe(false);
      expect(isDevIssuer(config)).toBe(true);
    });

    it.each([
      ['AUTH_ISSUER', { AUTH_ISSUER: 'http://sso.vora.example/realms/vora' }],
      ['AUTH_JWKS_URI', { AUTH_ISSUER: 'https://sso.vora.example/realms/vora', AUTH_JWKS_URI: 'http://keycloak:8080/certs' }],
    ])('refuses an http:// %s', (name, env) => {
      const value = (env as Record<string, string>)[name];
      for (const nodeEnv of ['production', 'staging']) {
        expect(problemsOf({ NODE_ENV: nodeEnv, ...env })).toEqual([
          `${name} must be an https:// URL when NODE_ENV=${nodeEnv}, got "${value}"; ` +
            'set AUTH_ALLOW_HTTP=true only for an issuer on a trusted internal network',
        ]);
      }
      expect(problemsOf({ NODE_ENV: 'production', AUTH_ALLOW_HTTP: 'false', ...env })).toHaveLength(1);
    });

    it('names both http:// URLs at once', () => {
      const problems = problemsOf({ NODE_ENV: 'production', AUTH_ISSUER: 'http://sso.vora.example', AUTH_JWKS_URI: 'http://sso.vora.example/certs' });
      expect(problems).toEqual([expect.stringMatching(/^AUTH_ISSUER must be an https:\/\/ URL/), expect.stringMatching(/^AUTH_JWKS_URI must be an https:\/\/ URL/)]);
    });

    it('accepts http:// issuer and JWKS URLs with AUTH_ALLOW_HTTP=true', () => {
      const config = loadConfig({
        NODE_ENV: 'production',
        AUTH_ISSUER: 'http://localhost:8080/realms/vora',
        AUTH_JWKS_URI: 'http://keycloak:8080/realms/vora/protocol/openid-connect/certs',
        AUTH_ALLOW_HTTP: 'true',
      });
      expect(config.auth).toMatchObject({
        issuer: 'http://localhost:8080/realms/vora',
        jwksUri: 'http://keycloak:8080/realms/vora/protocol/openid-connect/certs',
        allowHttp: true,
      });
    });

    it('accepts http:// issuers outside production without AUTH_ALLOW_HTTP', () => {
      for (const env of [{}, { NODE_ENV: 'development' }, { NODE_ENV: 'test' }]) {
        expect(loadConfig({ ...env, AUTH_ISSUER: 'http://127.0.0.1:8080' }).auth).toMatchObject({ issuer: 'http://127.0.0.1:8080', allowHttp: false });
      }
    });

    it('names a bad AUTH_ALLOW_HTTP', () => {
      expect(problemsOf({ AUTH_ALLOW_HTTP: 'yes' })).toEqual(['AUTH_ALLOW_HTTP must be "true" or "false", got "yes"']);
    });
  });

  it('needs AUTH_ISSUER with AUTH_JWKS_URI, to check iss', () => {
    expect(problemsOf({ AUTH_JWKS_URI: 'https://sso.vora.example/jwks' })).toEqual([
      'AUTH_ISSUER is required with AUTH_JWKS_URI, so that the "iss" claim can be checked',
    ]);
    expect(loadConfig({ AUTH_JWKS_URI: 'https://sso.vora.example/jwks', AUTH_ISSUER: 'https://sso.vora.example' }).auth.jwksUri).toBe(
      'https://sso.vora.example/jwks',
    );
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['AUTH_CLOCK_SKEW_S', '-1'],
    ['AUTH_CLOCK_SKEW_S', '301'],
    ['MAX_SESSIONS_PER_USER', '0'],
    ['SESSION_IDLE_TTL_S', '0'],
    ['INGRESS_MAX_BODY_BYTES', '10'],
    ['HEARTBEAT_INTERVAL_MS', 'soon'],
    ['WS_MAX_PAYLOAD_BYTES', '1'],
    ['WS_MAX_BUFFERED_BYTES', '1'],
    ['EVENT_BUFFER_SIZE', '0'],
    ['SESSION_MAX_LIFETIME_S', '0'],
    ['SESSION_RECHECK_INTERVAL_S', '0'],
    ['SESSION_RECHECK_INTERVAL_S', '301'],
    ['WS_MESSAGE_BURST', '0'],
    ['WS_MESSAGES_PER_SECOND', '1.5'],
    ['REQUEST_TIMEOUT_MS', '10'],
    ['HEADERS_TIMEOUT_MS', '10'],
    ['MAX_CONNECTIONS', '0'],
    ['MAX_FAILED_HANDSHAKES_PER_IP', '0'],
  ])('names %s=%s', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name} must be an integer between \\d+ and \\d+, got "${value}"$`));
  });

  it.each([
    ['STORE', 'postgres', /^STORE must be "memory" or "redis"/],
    ['AUTH_ISSUER', 'not a url', /^AUTH_ISSUER must be an absolute URL/],
    ['AUTH_JWKS_URI', '/jwks', /^AUTH_JWKS_URI must be an absolute URL/],
    ['REDIS_URL', 'localhost', /^REDIS_URL must be an absolute URL/],
    ['REDIS_URL', 'localhost:6391', /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL \(e\.g\. redis:\/\/localhost:6379\), got "localhost:6391"$/],
    ['REDIS_URL', 'http://localhost:6379', /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    ['AUTH_ACCEPTED_TYP', 'id+jwt', /^AUTH_ACCEPTED_TYP may only list at\+jwt, application\/at\+jwt, JWT/],
  ])('names %s=%s', (name, value, message) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toEqual([expect.stringMatching(message)]);
  });

  it.each(['redis://localhost:6379', 'rediss://user:secret@redis.example:6380/2'])('takes REDIS_URL=%s', (value) => {
    expect(loadConfig({ STORE: 'redis', REDIS_URL: value }).store).toEqual({ kind: 'redis', topology: { kind: 'single', url: value }, ingressPartitions: 1 });
  });

  it('reads INGRESS_PARTITIONS with Redis, from 1 to 256', () => {
    const redis = { STORE: 'redis', REDIS_URL: 'redis://localhost:6379' };
    expect(loadConfig({ ...redis, INGRESS_PARTITIONS: '4' }).store).toMatchObject({ kind: 'redis', ingressPartitions: 4 });
    expect(problemsOf({ ...redis, INGRESS_PARTITIONS: '0' })).toEqual([expect.stringMatching(/^INGRESS_PARTITIONS/)]);
    expect(problemsOf({ ...redis, INGRESS_PARTITIONS: '257' })).toEqual([expect.stringMatching(/^INGRESS_PARTITIONS/)]);
  });

  describe('TRUST_PROXY', () => {
    it('trusts no one by default, or with 0', () => {
      expect(loadConfig({}).http.trustProxy).toEqual({ kind: 'none' });
      expect(loadConfig({ TRUST_PROXY: '' }).http.trustProxy).toEqual({ kind: 'none' });
      expect(loadConfig({ TRUST_PROXY: '0' }).http.trustProxy).toEqual({ kind: 'none' });
    });

    it('reads a hop count', () => {
      expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toEqual({ kind: 'hops', hops: 2 });
    });

    it('reads a list of IPv4 and IPv6 addresses and CIDRs', () => {
      expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 172.28.5.10 ,fd00::/8,::1' }).http.trustProxy).toEqual({
        kind: 'ranges',
        ranges: ['10.0.0.0/8', '172.28.5.10', 'fd00::/8', '::1'],
      });
    });

    it.each(['nginx', '10.0.0.0/33', 'fd00::/129', '10.0.0.1/8/8', '300.1.1.1', '10.0.0.0/', '101', '-1'])('names TRUST_PROXY=%s', (value) => {
      expect(problemsOf({ TRUST_PROXY: value })).toEqual([expect.stringMatching(/^TRUST_PROXY /)]);
    });
  });

  it('has generous connection and failed-handshake caps by default', () => {
    const config = loadConfig({});
    expect(config.http.maxConnections).toBe(50_000);
    expect(config.limits.maxFailedHandshakesPerIp).toBe(120);
    expect(loadConfig({ MAX_CONNECTIONS: '10', MAX_FAILED_HANDSHAKES_PER_IP: '3' })).toMatchObject({
      http: { maxConnections: 10 },
      limits: { maxFailedHandshakesPerIp: 3 },
    });
  });

  it('needs one place to find Redis with STORE=redis', () => {
    expect(problemsOf({ STORE: 'redis' })).toEqual([
      'STORE=redis needs one of REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (with REDIS_SENTINEL_MASTER)',
    ]);
    expect(problemsOf({ STORE: 'redis', REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' })).toEqual([
      'set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS, got REDIS_URL and REDIS_CLUSTER_NODES',
    ]);
  });

  it('reads REDIS_CLUSTER_NODES as seed nodes, with the data nodes\' credentials', () => {
    const store = loadConfig({ STORE: 'redis', REDIS_CLUSTER_NODES: ' 10.0.0.1:7000,redis-b:7001 ,[::1]:7002', REDIS_PASSWORD: 's3cret' }).store;
    expect(store).toEqual({
      kind: 'redis',
      topology: {
        kind: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: 'redis-b', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        password: 's3cret',
      },
      ingressPartitions: 1,
    });
  });

  it('reads REDIS_SENTINELS with REDIS_SENTINEL_MASTER, and needs the master name', () => {
    expect(loadConfig({ STORE: 'redis', REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'vora' }).store).toEqual({
      kind: 'redis',
      topology: {
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
        ],
        master: 'vora',
      },
      ingressPartitions: 1,
    });
    expect(problemsOf({ STORE: 'redis', REDIS_SENTINELS: 's1:26379' })).toEqual([
      'REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the name the sentinels monitor',
    ]);
  });

  it.each(['redis://a:7000', 'a', 'a:0', 'a:65536', 'a:70x', ':7000', '::1:7000'])('names REDIS_CLUSTER_NODES=%s', (value) => {
    expect(problemsOf({ STORE: 'redis', REDIS_CLUSTER_NODES: value })).toEqual([
      `REDIS_CLUSTER_NODES must be comma-separated host:port pairs (e.g. 10.0.0.1:6379,10.0.0.2:6379), got "${value}"`,
      expect.stringMatching(/^STORE=redis needs one of/),
    ]);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      PORT: 'x',
      STORE: 'disk',
      MAX_SESSIONS_PER_USER: '-3',
      AUTH_ACCEPTED_TYP: 'nope',
    });
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'STORE', 'MAX_SESSIONS_PER_USER', 'AUTH_ACCEPTED_TYP', 'AUTH_ISSUER']) {
      expect(problems.some((p) => p.includes(name))).toBe(true);
    }
    expect(() => loadConfig({ PORT: 'x', STORE: 'disk' })).toThrow(/^invalid configuration:\n {2}- .*\n {2}- .*$/);
    expect(() => loadConfig({ PORT: 'x', STORE: 'disk' })).toThrow(/\n {2}- PORT must be/);
    expect(() => loadConfig({ PORT: 'x', STORE: 'disk' })).toThrow(/\n {2}- STORE must be/);
  });
});
