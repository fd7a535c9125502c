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
      store: 'memory',
      redisUrl: undefined,
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
      session: { maxSessionsPerUser: 10, idleTtlS: 3600 },
      ws: {
        heartbeatIntervalMs: 25_000,
        maxPayloadBytes: 65_536,
        maxBufferedBytes: 1024 * 1024,
        allowedOrigins: [],
        eventBufferSize: 1000,
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
    expect(config.session).toEqual({ maxSessionsPerUser: 2, idleTtlS: 60 });
    expect(config.store).toBe('redis');
    expect(config.redisUrl).toBe('redis://localhost:6379');
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
    ['AUTH_ACCEPTED_TYP', 'id+jwt', /^AUTH_ACCEPTED_TYP may only list at\+jwt, application\/at\+jwt, JWT/],
  ])('names %s=%s', (name, value, message) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toEqual([expect.stringMatching(message)]);
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

  it('needs REDIS_URL with STORE=redis', () => {
    expect(problemsOf({ STORE: 'redis' })).toEqual(['REDIS_URL is required when STORE=redis']);
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
