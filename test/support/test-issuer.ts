import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, JWK, JWTPayload, KeyLike, SignJWT } from 'jose';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'PS256' | 'ES256' | 'EdDSA';
  privateKey: KeyLike;
  publicJwk: JWK;
}

export interface TokenOptions {
  sub?: string;
  scope?: string;
  /** Extra or overriding claims; `undefined` values remove a claim. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  key?: SigningKey;
  expiresInS?: number;
}

/**
 * A real OpenID issuer for tests: discovery document and JWKS served over
 * HTTP on a free port, and tokens signed with its keys. It can go down and
 * come back, and counts JWKS fetches, to test caching and outages.
 */
export class TestIssuer {
  readonly audience = 'vora-gateway';
  keys: SigningKey[] = [];
  jwksRequests = 0;
  /** The path of every request it received, in order. */
  readonly requests: string[] = [];
  private server?: Server;
  private port = 0;
  private down = false;

  get issuer(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`;
  }

  static async start(): Promise<TestIssuer> {
    const issuer = new TestIssuer();
    issuer.keys.push(await TestIssuer.generateKey('RS256'));
    await issuer.listen();
    return issuer;
  }

  static async generateKey(alg: SigningKey['alg']): Promise<SigningKey> {
    const pair = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    const kid = randomUUID();
    return { kid, alg, privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' } };
  }

  /** Environment for the gateway to trust this issuer. */
  env(): Record<string, string> {
    return { AUTH_ISSUER: this.issuer, AUTH_AUDIENCE: this.audience };
  }

  setDown(down: boolean): void {
    this.down = down;
  }

  async sign(options: TokenOptions = {}): Promise<string> {
    const key = options.key ?? this.keys[0];
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: this.issuer,
      aud: this.audience,
      sub: options.sub ?? 'alice',
      scope: options.scope ?? 'vora:user',
      iat: now,
      exp: now + (options.expiresInS ?? 300),
      jti: randomUUID(),
      ...options.claims,
    };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    const header = { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...options.header };
    for (const [name, value] of Object.entries(header)) if (value === undefined) delete (header as Record<string, unknown>)[name];
    return new SignJWT(payload).setProtectedHeader(header as never).sign(key.privateKey);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private listen(): Promise<void> {
    this.server = createServer((request, response) => {
      this.requests.push(request.url ?? '/');
      if (this.down) {
        response.writeHead(503).end();
        return;
      }
      const send = (body: unknown) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (request.url === '/.well-known/openid-configuration') return send({ issuer: this.issuer, jwks_uri: this.jwksUri });
      if (request.url === '/jwks') {
        this.jwksRequests++;
        return send({ keys: this.keys.map((k) => k.publicJwk) });
      }
      response.writeHead(404).end();
    });
    return new Promise((resolve) =>
      this.server!.listen(0, '127.0.0.1', () => {
        this.port = (this.server!.address() as AddressInfo).port;
        resolve();
      }),
    );
  }
}
