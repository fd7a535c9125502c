import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, JWK, KeyLike } from 'jose';

/** The `iss` of tokens minted by the development issuer. */
export const DEV_ISSUER = 'urn:vora:dev-issuer';
const KEY_FILE = 'dev-issuer-key.json';

/**
 * The development issuer's ES256 key pair, kept under `.data/` so that tokens
 * printed by `npm run token` stay valid across restarts. Used only when no
 * external issuer is configured and NODE_ENV is unset, development or test.
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
}
