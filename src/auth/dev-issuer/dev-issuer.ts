import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, JWK, KeyLike, SignJWT } from 'jose';

/** The `iss` of tokens minted by the development issuer. */
export const DEV_ISSUER = 'urn:vora:dev-issuer';
const KEY_FILE = 'dev-issuer-key.json';

export interface DevTokenRequest {
  sub: string;
  scope: string;
  audience: string;
  ttlS?: number;
  username?: string;
}

/**
 * The development issuer's ES256 key pair, kept under `.data/` so that tokens
 * printed by `npm run token` stay valid across restarts. Used only when no
 * external issuer is configured and NODE_ENV is not production.
 */
export class DevIssuerKey {
  private constructor(
    readonly privateKey: KeyLike,
    readonly publicKey: KeyLike,
    readonly publicJwk: JWK,
  ) {}

  static async loadOrCreate(dir: string): Promise<DevIssuerKey> {
    const file = join(dir, KEY_FILE);
    let privateJwk: JWK;
    try {
      privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } catch {
      const pair = await generateKeyPair('ES256', { extractable: true });
      privateJwk = { ...(await exportJWK(pair.privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' };
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600 });
    }
    const { d: _private, ...publicJwk } = privateJwk;
    return new DevIssuerKey(
      (await importJWK(privateJwk, 'ES256')) as KeyLike,
      (await importJWK(publicJwk, 'ES256')) as KeyLike,
      publicJwk,
    );
  }

  sign(request: DevTokenRequest): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: request.scope, preferred_username: request.username ?? request.sub })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: this.publicJwk.kid })
      .setIssuer(DEV_ISSUER)
      .setAudience(request.audience)
      .setSubject(request.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + (request.ttlS ?? 3600))
      .setJti(randomUUID())
      .sign(this.privateKey);
  }
}
