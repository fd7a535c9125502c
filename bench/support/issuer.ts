import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, KeyLike, SignJWT } from 'jose';

/**
 * The benchmarks' own OpenID issuer on loopback: discovery document and JWKS
 * over HTTP, one RS256 key, and tokens signed with it. The gateway trusts it
 * through AUTH_ISSUER, exactly as it would trust Keycloak.
 */
export class BenchIssuer {
  readonly audience = 'vora-gateway';
  private server?: Server;
  private port = 0;

  private constructor(
    private readonly kid: string,
    private readonly privateKey: KeyLike,
    private readonly publicJwk: Record<string, unknown>,
  ) {}

  static async start(): Promise<BenchIssuer> {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
    const issuer = new BenchIssuer(kid, pair.privateKey, jwk);
    await issuer.listen();
    return issuer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Environment for a gateway that trusts this issuer (on loopback, so plain HTTP is allowed in production too). */
  env(): Record<string, string> {
    return { AUTH_ISSUER: this.url, AUTH_AUDIENCE: this.audience, AUTH_ALLOW_HTTP: 'true' };
  }

  /** An RS256 access token (RFC 9068) valid for an hour. */
  sign(sub: string, scope: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope, jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: this.kid })
      .setIssuer(this.url)
      .setAudience(this.audience)
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(this.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private listen(): Promise<void> {
    this.server = createServer((request, response) => {
      const send = (body: unknown) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (request.url === '/.well-known/openid-configuration') return send({ issuer: this.url, jwks_uri: `${this.url}/jwks` });
      if (request.url === '/jwks') return send({ keys: [this.publicJwk] });
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
