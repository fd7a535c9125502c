import type { JWK, JWSHeaderParameters, KeyLike } from 'jose';
import { importJWK } from 'jose';

/** The asymmetric algorithms a token may be signed with (SPEC section 2). */
export const ALLOWED_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export class UnknownKeyError extends Error {}
export class KeysUnavailableError extends Error {}

/**
 * Where the issuer's public keys come from. The token's header may only pick
 * among them by `kid`; embedded `jwk`, `jku` and `x5u` are never looked at.
 */
export abstract class KeySource {
  /** The `iss` that tokens verified with these keys must carry. */
  abstract readonly issuer: string;
  abstract keyFor(header: JWSHeaderParameters): Promise<KeyLike>;
  /** True once keys have been loaded at least once. */
  abstract isReady(): boolean;
}

export interface IssuerKey {
  readonly kid?: string;
  readonly algorithms: readonly string[];
  readonly key: KeyLike;
}

/** Each key signs only with its own algorithm: its `alg`, or the one its type implies. */
export function algorithmsOf(jwk: JWK): string[] {
  if (jwk.alg) return ALLOWED_ALGORITHMS.includes(jwk.alg as never) ? [jwk.alg] : [];
  if (jwk.kty === 'RSA') return ['RS256', 'PS256'];
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return ['ES256'];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return ['EdDSA'];
  return [];
}

/** Imports the signing keys of a JWKS, skipping private, symmetric and unusable ones. */
export async function importKeySet(jwks: { keys?: unknown }): Promise<IssuerKey[]> {
  const keys: IssuerKey[] = [];
  for (const jwk of Array.isArray(jwks.keys) ? (jwks.keys as JWK[]) : []) {
    if (jwk.use && jwk.use !== 'sig') continue;
    if (jwk.kty === 'oct' || jwk.d) continue;
    const algorithms = algorithmsOf(jwk);
    if (!algorithms.length) continue;
    try {
      const key = (await importJWK(jwk, algorithms[0])) as KeyLike;
      keys.push({ kid: jwk.kid, algorithms, key });
    } catch {
      // A key this runtime cannot import cannot verify anything; ignore it.
    }
  }
  return keys;
}

export function selectKey(keys: readonly IssuerKey[], header: JWSHeaderParameters): IssuerKey | undefined {
  const candidates = keys.filter((k) => k.algorithms.includes(header.alg ?? ''));
  if (header.kid !== undefined) return candidates.find((k) => k.kid === header.kid);
  // Without a kid, only an unambiguous key is acceptable.
  return candidates.length === 1 ? candidates[0] : undefined;
}
