import Redis from 'ioredis';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, RequestListener } from 'node:http';
import { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { DevTokenSigner } from '../src/auth/dev-issuer/dev-token-signer';
import { ConfigError, loadConfig } from '../src/config/load-config';
import { ALICE as ALICE_MOBILE, ALICE_FIXED, BOB, CAROL } from './support/fixtures';
import { eventually, expectError, freePort, GatewayProcess, http, HttpResult, LogCapture, SigningKey, startGateway, TestIssuer, useGateway, useIssuer, useRedis } from './support/harness';

const REALM = 'Bearer realm="vora"';
/** alice's identities, as GET /identity lists them. */
const ALICE = [ALICE_MOBILE, ALICE_FIXED];

const nowS = (): number => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 401 for a token that was sent but refused: RFC 6750 invalid_token with a description. */
function expectInvalidToken(result: HttpResult, description: string): void {
  expectError(result, 401);
  expect(result.body.error).toBe('Unauthorized');
  expect(result.body.message).toBe(`the access token is invalid: ${description}`);
  expect(result.headers.get('www-authenticate')).toBe(
    `${REALM}, error="invalid_token", error_description="${description}"`,
  );
}

function expectInsufficientScope(result: HttpResult, scopes: string): void {
  expectError(result, 403, `the access token has insufficient scope: one of ${scopes} is required`);
  expect(result.body.error).toBe('Forbidden');
  expect(result.headers.get('www-authenticate')).toBe(`${REALM}, error="insufficient_scope", scope="${scopes}"`);
}

describe('security_auth against an external issuer', () => {
  const { issuer, gateway } = useGateway();
  const identity = (token: string, query = '') => http(`${gateway.url}/identity${query}`, { token });

  it('accepts a valid token', async () => {
    const result = await identity(await issuer.sign());
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ identities: ALICE });
  });

  describe('no token', () => {
    it('answers 401 with a bare Bearer challenge', async () => {
      const result = await http(`${gateway.url}/identity`);
      expectError(result, 401, 'an access token is required: send Authorization: Bearer <token>');
      expect(result.body.error).toBe('Unauthorized');
      expect(result.headers.get('www-authenticate')).toBe(REALM);
    });

    it('refuses a Bearer header without a token', async () => {
      const result = await http(`${gateway.url}/identity`, { headers: { authorization: 'Bearer ' } });
      expectInvalidToken(result, 'the Authorization header must be Bearer followed by one token');
    });

    it('treats another authorization scheme as no bearer token (RFC 6750 3.1: no error code)', async () => {
      const result = await http(`${gateway.url}/identity`, { headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' } });
      expectError(result, 401);
      expect(result.headers.get('www-authenticate')).toBe(REALM);
    });
  });

  describe('claims', () => {
    it('refuses an expired token', async () => {
      const token = await issuer.sign({ claims: { iat: nowS() - 600, exp: nowS() - 120 } });
      expectInvalidToken(await identity(token), 'the token has expired');
    });

    it('accepts a token that expired within the clock skew', async () => {
      const token = await issuer.sign({ claims: { exp: nowS() - 10 } });
      expect((await identity(token)).status).toBe(200);
    });

    it('refuses a token whose nbf is further in the future than the skew', async () => {
      const token = await issuer.sign({ claims: { nbf: nowS() + 120 } });
      expectInvalidToken(await identity(token), 'the token is not valid yet');
    });

    it('accepts a token whose nbf is in the future within the skew', async () => {
      const token = await issuer.sign({ claims: { nbf: nowS() + 20 } });
      expect((await identity(token)).status).toBe(200);
    });

    it('accepts an aud array that names the gateway', async () => {
      const token = await issuer.sign({ claims: { aud: ['account', 'vora-gateway'] } });
      expect((await identity(token)).status).toBe(200);
    });

    it('refuses a token for another audience', async () => {
      const token = await issuer.sign({ claims: { aud: 'another-service' } });
      expectInvalidToken(await identity(token), 'the token is meant for another audience');
    });

    it('refuses a token from another issuer', async () => {
      const token = await issuer.sign({ claims: { iss: 'https://evil.example' } });
      expectInvalidToken(await identity(token), 'the token was not issued by the trusted issuer');
    });

    it('refuses a token without exp (RFC 9068)', async () => {
      const token = await issuer.sign({ claims: { exp: undefined } });
      expectInvalidToken(await identity(token), 'the token has no expiry');
    });

    it('refuses a token without sub', async () => {
      const token = await issuer.sign({ claims: { sub: undefined } });
      expectInvalidToken(await identity(token), 'the token has no subject');
    });

    it('refuses an ID token (nonce claim) even from the trusted issuer', async () => {
      const token = await issuer.sign({ claims: { nonce: 'n-0S6_WzA2Mj' } });
      expectInvalidToken(await identity(token), 'an ID token was sent where an access token is required');
    });

    describe('strings that are not well-formed Unicode (lone surrogates, through JSON escapes)', () => {
      it.each([
        ['a sub that is a lone surrogate', { sub: '\ud800' }, 'the sub claim is not well-formed Unicode'],
        ['a sub ending in a lone low surrogate', { sub: 'alice\udc00' }, 'the sub claim is not well-formed Unicode'],
        ['a username', { preferred_username: 'ali\ud83dce' }, 'the preferred_username claim is not well-formed Unicode'],
        ['a scope string', { scope: 'vora:user \udfff' }, 'the scope claim is not well-formed Unicode'],
        ['an scp entry', { scope: undefined, scp: ['vora:user', '\ud800'] }, 'the scp claim is not well-formed Unicode'],
        ['a nested claim', { realm_access: { roles: ['user', { name: '\ud800' }] } }, 'the realm_access claim is not well-formed Unicode'],
        ['a key inside a claim', { resource_access: { '\ud800': { roles: [] } } }, 'the resource_access claim is not well-formed Unicode'],
        ['a claim name', { 'x\ud800': 1 }, 'a claim name is not well-formed Unicode'],
      ])('refuses %s with 401', async (_what, extra, description) => {
        const token = await issuer.sign({ claims: extra });
        expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        expectInvalidToken(await identity(token), description);
        // Setup, where the sub becomes a session key, refuses it the same way.
        const setup = await http(`${gateway.url}/identity/setup`, { token, body: { connectionType: 'WEB', identity: ALICE[0] } });
        expectInvalidToken(setup, description);
      });

      it('accepts well-formed strings beyond the BMP', async () => {
        const token = await issuer.sign({ claims: { preferred_username: 'ayşe 😀', name: '𝒜lice' } });
        expect((await identity(token)).status).toBe(200);
        // An unknown sub that is well-formed gets past the token check to the directory (404, not 401).
        expectError(await identity(await issuer.sign({ sub: 'ayşe😀' })), 404);
      });
    });
  });

  describe('typ', () => {
    it.each(['at+jwt', 'application/at+jwt', 'JWT'])('accepts typ %s', async (typ) => {
      expect((await identity(await issuer.sign({ header: { typ } }))).status).toBe(200);
    });

    it('refuses typ id+jwt', async () => {
      const token = await issuer.sign({ header: { typ: 'id+jwt' } });
      const result = await identity(token);
      expectError(result, 401, 'the access token is invalid: token type "id+jwt" is not an accepted access token type');
      // error_description may not contain a double quote (RFC 6750 section 3)
      expect(result.headers.get('www-authenticate')).toBe(
        `${REALM}, error="invalid_token", error_description="token type 'id+jwt' is not an accepted access token type"`,
      );
    });

    it('refuses a token without typ', async () => {
      const result = await identity(await issuer.sign({ header: { typ: undefined } }));
      expectError(result, 401, 'the access token is invalid: token type "" is not an accepted access token type');
      expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="vora", error="invalid_token", error_description="[^"]*"$/);
    });

    it('keeps a header free of control characters a hostile typ carries', async () => {
      const result = await identity(await issuer.sign({ header: { typ: 'x"\r\nset-cookie: a=b' } }));
      expectError(result, 401);
      expect(result.headers.get('set-cookie')).toBeNull();
      expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="vora", error="invalid_token", error_description="[^"]*"$/);
    });

    describe('AUTH_ACCEPTED_TYP narrows the accepted types', () => {
      const { gateway: narrow } = useGateway({ AUTH_ACCEPTED_TYP: 'at+jwt' }, { issuer });

      it('accepts at+jwt and refuses JWT and application/at+jwt', async () => {
        const call = async (typ: string) => http(`${narrow.url}/identity`, { token: await issuer.sign({ header: { typ } }) });
        expect((await call('at+jwt')).status).toBe(200);
        expectError(await call('JWT'), 401, 'the access token is invalid: token type "JWT" is not an accepted access token type');
        expectError(await call('application/at+jwt'), 401, /token type "application\/at\+jwt" is not an accepted/);
      });
    });
  });

  describe('where the token is sent', () => {
    it('accepts the token in the access_token query parameter', async () => {
      const result = await http(`${gateway.url}/identity?access_token=${await issuer.sign()}`);
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: ALICE });
    });

    it('answers 400 invalid_request to a token in the header and the query at once', async () => {
      const token = await issuer.sign();
      const result = await identity(token, `?access_token=${token}`);
      expectError(result, 400, 'send the access token in one place only, not in the header and the query');
      expect(result.body.error).toBe('Bad Request');
      expect(result.headers.get('www-authenticate')).toBe(
        `${REALM}, error="invalid_request", error_description="the token was sent in more than one place"`,
      );
    });

    it('answers 400 to the access_token query parameter sent twice', async () => {
      const token = await issuer.sign();
      const result = await http(`${gateway.url}/identity?access_token=${token}&access_token=${token}`);
      expectError(result, 400, 'send the access token in one place only');
      expect(result.headers.get('www-authenticate')).toBe(`${REALM}, error="invalid_request"`);
    });
  });

  describe('scopes and modes', () => {
    it('reads scopes from a space separated scope claim', async () => {
      const result = await identity(await issuer.sign({ scope: 'openid vora:ott profile' }));
      expect(result.body).toEqual({ identities: [ALICE_FIXED] });
    });

    it('reads scopes from an scp array', async () => {
      const token = await issuer.sign({ claims: { scope: undefined, scp: ['openid', 'vora:ott'] } });
      const result = await identity(token);
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: [ALICE_FIXED] });
    });

    it('takes admin over every other mode', async () => {
      const result = await identity(await issuer.sign({ scope: 'vora:ott vora:user vora:manager vora:admin' }));
      expect(result.body).toEqual({ identities: ['alice'] });
    });

    it('takes user over ott', async () => {
      const result = await identity(await issuer.sign({ scope: 'vora:ott vora:user' }));
      expect(result.body).toEqual({ identities: ALICE });
    });

    it('takes manager over user (the manager sees group events)', async () => {
      const token = await issuer.sign({ sub: 'carol', scope: 'vora:user vora:manager' });
      const setup = await http(`${gateway.url}/identity/setup`, { token, body: { connectionType: 'WEB', identity: CAROL } });
      expect(setup.status).toBe(200);
      const result = await http(`${gateway.url}/identity/+905321110003/eventSubscription`, { token, body: { subscribeAll: true } });
      expect(result.status).toBe(200);
      expect(result.body.events).toEqual(expect.arrayContaining(['AgentStateChanged', 'QueueStatusChanged']));
      await http(`${gateway.url}/logout/+905321110003`, { token, method: 'POST' });
    });

    it('answers 403 insufficient_scope to a token without any mode scope', async () => {
      const result = await identity(await issuer.sign({ scope: 'openid profile' }));
      expectInsufficientScope(result, 'vora:user vora:manager vora:ott vora:admin');
    });

    it('answers 403 insufficient_scope to the platform scope on a client endpoint', async () => {
      const result = await identity(await issuer.sign({ scope: 'vora:events:publish' }));
      expectInsufficientScope(result, 'vora:user vora:manager vora:ott vora:admin');
    });
  });

  describe('the verified-token cache', () => {
    it('does not keep a token valid past its expiry plus the skew', async () => {
      // Expired 28 s ago: inside the 30 s skew now, outside it two seconds from now.
      const start = nowS();
      const token = await issuer.sign({ claims: { exp: start - 28 } });
      expect((await identity(token)).status).toBe(200);
      expect((await identity(token)).status).toBe(200);
      await sleep((start + 2) * 1000 - Date.now() + 50);
      expectInvalidToken(await identity(token), 'the token has expired');
    });

    describe('without clock skew', () => {
      const { gateway: strict } = useGateway({ AUTH_CLOCK_SKEW_S: '0' }, { issuer });

      it('accepts a token until exp and refuses it after, though it was cached', async () => {
        const exp = nowS() + 2;
        const token = await issuer.sign({ claims: { exp } });
        const call = () => http(`${strict.url}/identity`, { token });
        expect((await call()).status).toBe(200);
        expect((await call()).status).toBe(200);
        await sleep(exp * 1000 - Date.now() + 50);
        expectInvalidToken(await call(), 'the token has expired');
      });
    });
  });
});

describe('claims that are not well-formed Unicode with STORE=redis', () => {
  const redis = useRedis();
  const { issuer, gateway } = useGateway(() => ({ STORE: 'redis', REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '3' }));

  it('refuses them with 401 before any Redis key is built from them, and the store keeps serving', async () => {
    for (const sub of ['\ud800', 'bob\udfff']) {
      const token = await issuer.sign({ sub });
      // More requests than the rate limit: each is refused by the token check, none reaches the limiter or the store.
      for (let i = 0; i < 4; i++) {
        expectInvalidToken(await http(`${gateway.url}/identity`, { token }), 'the sub claim is not well-formed Unicode');
        expectInvalidToken(
          await http(`${gateway.url}/identity/setup`, { token, body: { connectionType: 'WEB', identity: BOB } }),
          'the sub claim is not well-formed Unicode',
        );
      }
    }
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      expect(keys.filter((key) => /\p{Cs}/u.test(key) || key.includes('\ufffd'))).toEqual([]);
    } finally {
      client.disconnect();
    }
    const alice = await issuer.sign({ sub: 'alice' });
    const setup = await http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType: 'WEB', identity: ALICE[0] } });
    expect(setup.status).toBe(200);
  });
});

describe('JWKS caching', () => {
  const { issuer, gateway } = useGateway();
  const identity = async (key: SigningKey) => http(`${gateway.url}/identity`, { token: await issuer.sign({ key }) });

  it('loads the keys once at start-up and serves from the cache', async () => {
    expect(issuer.jwksRequests).toBe(1);
    expect((await identity(issuer.keys[0])).status).toBe(200);
    expect((await identity(issuer.keys[0])).status).toBe(200);
    expect(issuer.jwksRequests).toBe(1);
  });

  it('refetches on an unknown kid and picks up a rotated-in key', async () => {
    const rotated = await TestIssuer.generateKey('ES256');
    issuer.keys.push(rotated);
    // Concurrent requests with the new kid share one refetch, and none is refused while it runs.
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => identity(rotated)));
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: ALICE });
    }
    expect(issuer.jwksRequests).toBe(2);
  });

  it('does not refetch for a second unknown kid within 30 s', async () => {
    const second = await TestIssuer.generateKey('ES256');
    issuer.keys.push(second);
    expectInvalidToken(await identity(second), 'the token is signed by an unknown key');
    expectInvalidToken(await identity(second), 'the token is signed by an unknown key');
    expect(issuer.jwksRequests).toBe(2);
  });

  it('keeps accepting tokens signed by cached keys while the JWKS endpoint is down', async () => {
    issuer.setDown(true);
    try {
      expect((await identity(issuer.keys[0])).status).toBe(200);
      expect((await identity(issuer.keys[1])).status).toBe(200);
      const readiness = await http(`${gateway.url}/health/readiness`);
      expect(readiness.status).toBe(204);
    } finally {
      issuer.setDown(false);
    }
  });

  it('refuses a cached token once its key has left the JWKS, within 60 s of its last check', async () => {
    const leaving = issuer.keys[1];
    const token = await issuer.sign({ key: leaving });
    const call = () => http(`${gateway.url}/identity`, { token });
    expect((await call()).status).toBe(200);
    const newcomer = await TestIssuer.generateKey('ES256');
    issuer.keys = [...issuer.keys.filter((key) => key !== leaving), newcomer];
    // 61 s on: the unknown-kid cooldown is over, so the newcomer's kid makes the gateway refetch the
    // JWKS, which no longer holds the leaving key. The cached token, valid for 300 s, has been kept
    // 60 s at most: its signature is checked again, against the keys as they are now.
    const later = Date.now() + 61_000;
    jest.spyOn(Date, 'now').mockImplementation(() => later);
    try {
      expect((await identity(newcomer)).status).toBe(200);
      expect(issuer.jwksRequests).toBe(3);
      expectInvalidToken(await call(), 'the token is signed by an unknown key');
    } finally {
      jest.restoreAllMocks();
    }
  });
});

describe('JWKS endpoint down at start-up', () => {
  const { issuer, gateway } = useGateway({}, { beforeStart: (issuer) => issuer.setDown(true) });

  it('answers 503 to a client request while no key was ever loaded', async () => {
    const token = await issuer.sign();
    expectError(await http(`${gateway.url}/identity`, { token }), 503, 'the token issuer keys are not available yet; retry shortly');
  });
});

describe('AUTH_JWKS_URI skips discovery', () => {
  const { issuer, gateway } = useGateway((issuer) => ({ AUTH_JWKS_URI: issuer.jwksUri }));

  it('accepts tokens of the issuer', async () => {
    const result = await http(`${gateway.url}/identity`, { token: await issuer.sign() });
    expect(result.status).toBe(200);
  });
});

/** A plain HTTP server for issuers that misbehave; it keeps the path of every request. */
async function startServer(handler: RequestListener): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? '/');
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('the issuer is asked for keys without following redirects', () => {
  let elsewhere: TestIssuer;
  let redirector: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    // Another host with working keys: following the redirect would make its tokens valid.
    elsewhere = await TestIssuer.start();
    redirector = await startServer((request, response) => {
      response.writeHead(307, { location: `${elsewhere.issuer}${request.url}` }).end();
    });
  });
  afterAll(async () => {
    await Promise.all([elsewhere.close(), redirector.close()]);
  });

  it.each([
    ['discovery document', '/.well-known/openid-configuration', {}],
    ['JWKS', '/jwks', { AUTH_JWKS_URI: '/jwks' }],
  ])('a %s answering 307 fails the fetch: the token is refused and the other host gets no request', async (_what, path, extra) => {
    const logs = new LogCapture();
    const env = { AUTH_ISSUER: redirector.url, AUTH_AUDIENCE: 'vora-gateway', ...extra };
    if ('AUTH_JWKS_URI' in env) env.AUTH_JWKS_URI = `${redirector.url}${env.AUTH_JWKS_URI}`;
    const gateway = await startGateway(env, { logStream: logs });
    try {
      const token = await elsewhere.sign({ claims: { iss: redirector.url } });
      expectError(await http(`${gateway.url}/identity`, { token }), 503, 'the token issuer keys are not available yet; retry shortly');
      expect((await http(`${gateway.url}/health/readiness`)).status).toBe(503);
      expect(redirector.requests).toContain(path);
      expect(elsewhere.requests).toEqual([]);
      expect(logs.records).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: `issuer keys not loaded yet: GET ${redirector.url}${path} answered 307, a redirect, which is not followed`,
        }),
      );
    } finally {
      await gateway.close();
    }
  });
});

describe('a JWKS that starts redirecting after its keys were loaded', () => {
  it('keeps the known keys, refuses the unknown kid the redirect would bring, and logs the refetch failure', async () => {
    const own = await TestIssuer.start();
    const elsewhere = await TestIssuer.start();
    let redirecting = false;
    const server = await startServer((request, response) => {
      if (redirecting) return response.writeHead(302, { location: elsewhere.jwksUri }).end();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: own.keys.map((k) => k.publicJwk) }));
    });
    const logs = new LogCapture();
    const gateway = await startGateway({ AUTH_ISSUER: own.issuer, AUTH_JWKS_URI: `${server.url}/jwks`, AUTH_AUDIENCE: 'vora-gateway' }, { logStream: logs });
    try {
      expect((await http(`${gateway.url}/identity`, { token: await own.sign() })).status).toBe(200);
      redirecting = true;
      const stranger = await elsewhere.sign({ claims: { iss: own.issuer } });
      expectInvalidToken(await http(`${gateway.url}/identity`, { token: stranger }), 'the token is signed by an unknown key');
      expect(server.requests).toEqual(['/jwks', '/jwks']);
      expect(elsewhere.requests).toEqual([]);
      expect(logs.records).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: `issuer keys could not be refetched (the known keys stay in use): GET ${server.url}/jwks answered 302, a redirect, which is not followed`,
        }),
      );
      expect((await http(`${gateway.url}/identity`, { token: await own.sign() })).status).toBe(200);
    } finally {
      await gateway.close();
      await Promise.all([own.close(), elsewhere.close(), server.close()]);
    }
  });
});

describe('the size of the issuer answers', () => {
  let issuer: TestIssuer;
  let padding = { discovery: 0, jwks: 0 };
  let server: Awaited<ReturnType<typeof startServer>>;
  const MiB = 1024 * 1024;
  beforeAll(async () => {
    issuer = await TestIssuer.start();
    // The test issuer's key, served from another address with as much padding as the test asks for.
    server = await startServer((request, response) => {
      const send = (body: Record<string, unknown>, pad: number) => {
        const text = JSON.stringify({ ...body, padding: 'x'.repeat(pad) });
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      };
      if (request.url === '/.well-known/openid-configuration') return send({ issuer: server.url, jwks_uri: `${server.url}/jwks` }, padding.discovery);
      if (request.url === '/jwks') return send({ keys: [issuer.keys[0].publicJwk] }, padding.jwks);
      response.writeHead(404).end();
    });
  });
  afterAll(async () => {
    await Promise.all([issuer.close(), server.close()]);
  });

  const identityWith = async (pad: typeof padding) => {
    padding = pad;
    const gateway = await startGateway({ AUTH_ISSUER: server.url, AUTH_AUDIENCE: 'vora-gateway' });
    try {
      return await http(`${gateway.url}/identity`, { token: await issuer.sign({ claims: { iss: server.url } }) });
    } finally {
      await gateway.close();
    }
  };

  it('accepts a discovery document and a JWKS just under 1 MiB', async () => {
    expect((await identityWith({ discovery: MiB - 1024, jwks: MiB - 2048 })).status).toBe(200);
  });

  it.each([
    ['discovery document', { discovery: MiB, jwks: 0 }],
    ['JWKS', { discovery: 0, jwks: MiB }],
  ])('refuses a %s over 1 MiB: no keys, the token is refused', async (_what, pad) => {
    expectError(await identityWith(pad), 503, 'the token issuer keys are not available yet; retry shortly');
  });

  it('stops reading an endless JWKS at 1 MiB', async () => {
    let written = 0;
    let finished = false;
    let cut = 0;
    const endless = await startServer((request, response) => {
      if (request.url === '/.well-known/openid-configuration') {
        return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jwks_uri: `${endless.url}/jwks` }));
      }
      // No content-length: a valid JWKS of 256 MiB, written as fast as it is read.
      void (async () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write(`{"keys":[${JSON.stringify(issuer.keys[0].publicJwk)}],"padding":"`);
        const chunk = 'x'.repeat(64 * 1024);
        const closed = once(response, 'close');
        for (let i = 0; i < 4096 && !response.destroyed; i++) {
          written += chunk.length;
          if (!response.write(chunk)) await Promise.race([once(response, 'drain'), closed]);
        }
        if (response.destroyed) cut++;
        else {
          response.end('"}');
          finished = true;
        }
      })();
    });
    try {
      const gateway = await startGateway({ AUTH_ISSUER: endless.url, AUTH_AUDIENCE: 'vora-gateway' });
      try {
        const token = await issuer.sign({ claims: { iss: endless.url } });
        expectError(await http(`${gateway.url}/identity`, { token }), 503, 'the token issuer keys are not available yet; retry shortly');
      } finally {
        await gateway.close();
      }
      // The start-up fetch and the one the token caused were both cut off, far from the end.
      await eventually(() => expect(cut).toBe(2));
      expect(finished).toBe(false);
      expect(written).toBeLessThan(2 * 64 * MiB);
    } finally {
      await endless.close();
    }
  });
});

describe('configuration of the issuer', () => {
  it('refuses to start in production without an issuer, naming AUTH_ISSUER', async () => {
    const start = startGateway({ NODE_ENV: 'production' });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(/AUTH_ISSUER/);
  });

  const linesOf = (output: string) => output.split('\n').filter(Boolean);

  it.each(['production', 'Production', 'prod', 'staging'])(
    'the compiled gateway with NODE_ENV=%s and no issuer exits 1 and says what to set',
    async (nodeEnv) => {
      const { code, output } = await GatewayProcess.refusal({ NODE_ENV: nodeEnv });
      expect(code).toBe(1);
      expect(linesOf(output)).toEqual([
        `VORA Gateway cannot start: NODE_ENV=${nodeEnv} needs an external token issuer: set AUTH_ISSUER (and AUTH_AUDIENCE), ` +
          'or AUTH_JWKS_URI with AUTH_ISSUER; the development issuer runs only when NODE_ENV is unset, development or test',
      ]);
    },
  );

  describe('an http:// issuer in production', () => {
    const issuer = useIssuer();

    it('is refused at start-up, naming AUTH_ISSUER and AUTH_ALLOW_HTTP', async () => {
      const { code, output } = await GatewayProcess.refusal({ NODE_ENV: 'production', ...issuer.env() });
      expect(code).toBe(1);
      expect(linesOf(output)).toEqual([
        `VORA Gateway cannot start: AUTH_ISSUER must be an https:// URL when NODE_ENV=production, got "${issuer.issuer}"; ` +
          'set AUTH_ALLOW_HTTP=true only for an issuer on a trusted internal network',
      ]);
    });

    it('is trusted with AUTH_ALLOW_HTTP=true', async () => {
      const gateway = await GatewayProcess.start({ NODE_ENV: 'production', ...issuer.env(), AUTH_ALLOW_HTTP: 'true' });
      try {
        const result = await http(`${gateway.url}/identity`, { token: await issuer.sign() });
        expect(result.status).toBe(200);
        expect(result.body).toEqual({ identities: ALICE });
        // Production: the development issuer is not there.
        expectError(await http(`${gateway.url}/dev-issuer/jwks.json`), 404);
      } finally {
        await gateway.kill('SIGTERM');
      }
    });
  });
});

describe('development issuer (no AUTH_ISSUER)', () => {
  const { gateway } = useGateway({}, { issuer: false });

  it('accepts a token signed with the development key', async () => {
    const token = await gateway.app.get(DevTokenSigner).sign({ sub: 'alice', scope: 'vora:user' });
    const result = await http(`${gateway.url}/identity`, { token });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ identities: ALICE });

    // An RFC 9068 access token of the development issuer, whatever library signs it.
    const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    const { kid } = (await http(`${gateway.url}/dev-issuer/jwks.json`)).body.keys[0];
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid });
    expect(payload).toEqual({
      iss: 'urn:vora:dev-issuer',
      aud: 'vora-gateway',
      sub: 'alice',
      scope: 'vora:user',
      preferred_username: 'alice',
      iat: expect.any(Number),
      exp: payload.iat + 3600,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it('refuses a token of another key, even with the development issuer name', async () => {
    const stranger = await TestIssuer.start();
    try {
      const token = await stranger.sign({ key: { ...stranger.keys[0] }, claims: { iss: 'urn:vora:dev-issuer' } });
      expectInvalidToken(await http(`${gateway.url}/identity`, { token }), 'the token is signed by an unknown key');
    } finally {
      await stranger.close();
    }
  });

  it('serves its JWKS without the private part', async () => {
    const result = await http(`${gateway.url}/dev-issuer/jwks.json`);
    expect(result.status).toBe(200);
    expect(result.body.keys).toHaveLength(1);
    expect(result.body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(result.body.keys[0].d).toBeUndefined();
  });

  it('keeps its key across restarts, so earlier tokens stay valid', async () => {
    const token = await gateway.app.get(DevTokenSigner).sign({ sub: 'alice', scope: 'vora:user', audience: 'vora-gateway' });
    const restarted = await startGateway({ DEV_KEY_DIR: gateway.config.auth.devKeyDir });
    try {
      expect((await http(`${restarted.url}/identity`, { token })).status).toBe(200);
    } finally {
      await restarted.close();
    }
    // A gateway with another key directory has another key.
    const other = await startGateway({});
    try {
      expectInvalidToken(await http(`${other.url}/identity`, { token }), 'the token is signed by an unknown key');
    } finally {
      await other.close();
    }
  });

  it('warns that development auth is on', async () => {
    // A real process, as `npm start` runs it: the logger is process-wide state.
    const started = await GatewayProcess.start({ DEV_KEY_DIR: gateway.config.auth.devKeyDir });
    await started.kill('SIGTERM');
    const warnings = started.output
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((record) => record.level === 40)
      .map((record) => String(record.msg));
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/development token issuer is ON.*AUTH_ISSUER/)]));
  });

  it('accepts a token printed by `npm run token`', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'token', '--', '--sub', 'alice', '--scope', 'vora:user'], {
      cwd: `${__dirname}/..`,
      env: { ...process.env, DEV_KEY_DIR: gateway.config.auth.devKeyDir },
    });
    const token = stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const result = await http(`${gateway.url}/identity`, { token });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ identities: ALICE });
  });
});

/** An AUTH_ISSUER that cannot be reached: the log says which URL and why, so the operator can fix it. */
describe('issuer unreachable at start-up', () => {
  let port: number;
  const logs = new LogCapture();
  beforeAll(async () => {
    port = await freePort(); // nothing listens there
  });
  useGateway(() => ({ AUTH_ISSUER: `http://127.0.0.1:${port}/realms/vora` }), { issuer: false, logStream: logs });

  it('logs the discovery URL and the cause of the failure', async () => {
    const url = `http://127.0.0.1:${port}/realms/vora/.well-known/openid-configuration`;
    const warning = await eventually(() => {
      const found = logs.records.find((record) => String(record.msg).startsWith('issuer keys not loaded yet'));
      expect(found).toBeDefined();
      return found!;
    });
    expect(warning).toMatchObject({
      level: 40,
      context: 'Jwks',
      msg: `issuer keys not loaded yet: GET ${url} failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('names the JWKS URL when AUTH_JWKS_URI skips discovery', async () => {
    const jwksLogs = new LogCapture();
    const jwksUri = `http://127.0.0.1:${port}/certs`;
    const other = await startGateway({ AUTH_ISSUER: 'https://issuer.example/realms/vora', AUTH_JWKS_URI: jwksUri }, { logStream: jwksLogs });
    try {
      await eventually(() =>
        expect(jwksLogs.records.map((record) => record.msg)).toContain(
          `issuer keys not loaded yet: GET ${jwksUri} failed: connect ECONNREFUSED 127.0.0.1:${port}`,
        ),
      );
    } finally {
      await other.close();
    }
  });
});
