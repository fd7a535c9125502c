import { hash } from 'node:crypto';
import { HttpStatus, Injectable } from '@nestjs/common';
import { errors as joseErrors, jwtVerify, JWTPayload } from 'jose';
import { GatewayConfig } from '../config/gateway-config';
import { VoraError } from '../common/vora-error';
import { Caller } from './caller';
import { ALLOWED_ALGORITHMS, KeySource, KeysUnavailableError, UnknownKeyError } from './key-source';
import { resolveMode, scopesOf } from './modes';

export const REALM = 'Bearer realm="vora"';

/** RFC 6750 401 for a token that was sent but cannot be accepted. */
export function invalidToken(description: string): VoraError {
  return new VoraError(HttpStatus.UNAUTHORIZED, `the access token is invalid: ${description}`, {
    'www-authenticate': `${REALM}, error="invalid_token", error_description="${headerSafe(description)}"`,
  });
}

/**
 * error_description allows only %x20-21 / %x23-5B / %x5D-7E (RFC 6750 section 3).
 * Descriptions can quote token header values, which the client controls: a
 * quote or a line break there would break the header (Node then refuses to
 * send the reply at all).
 */
function headerSafe(description: string): string {
  return description.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '').slice(0, 200);
}

/** A lone surrogate: what makes a JavaScript string not well-formed Unicode (`isWellFormed`, ES2024). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What is wrong when a claim (or a name or string inside it) is not
 * well-formed Unicode, or undefined. JSON escapes can carry lone surrogates,
 * which break key building, Redis scripts' JSON and logs further on.
 */
function malformedClaim(payload: JWTPayload): string | undefined {
  for (const [claim, value] of Object.entries(payload)) {
    if (LONE_SURROGATE.test(claim)) return 'a claim name is not well-formed Unicode';
    // Iterative, so that a deeply nested claim cannot exhaust the stack.
    const pending: unknown[] = [value];
    while (pending.length) {
      const item = pending.pop();
      if (typeof item === 'string' && LONE_SURROGATE.test(item)) return `the ${claim} claim is not well-formed Unicode`;
      if (item === null || typeof item !== 'object') continue;
      for (const [key, inner] of Object.entries(item)) {
        if (LONE_SURROGATE.test(key)) return `the ${claim} claim is not well-formed Unicode`;
        pending.push(inner);
      }
    }
  }
  return undefined;
}

interface CachedCaller {
  readonly caller: Caller;
  readonly expiresAt: number;
}

const CACHE_LIMIT = 10_000;
const CACHE_TTL_MS = 60_000;
/** Distinct scope sets shared by cached callers, at most this many (see `sharedScopes`). */
const SHARED_SCOPES_MAX = 256;

/**
 * The cache key of a token: its SHA-256, one character per byte. A JWT is
 * 700 bytes or more, and the token a header yields is a slice that keeps the
 * whole header alive; the digest keeps neither.
 */
const cacheKey = (token: string): string => hash('sha256', token, 'binary');

/**
 * Verifies OAuth 2.0 access tokens (RFC 9068 JWTs). Verified tokens are kept
 * for at most 60 s (or until `exp`, if sooner) so that a busy client does not
 * pay for a signature check on every request, while a rotated key or an
 * expired token still takes effect within that minute.
 */
@Injectable()
export class TokenVerifier {
  private readonly cache = new Map<string, CachedCaller>();
  /** Cached callers share one set per distinct scope list (read only to all: Caller.scopes is a ReadonlySet); most tokens grant the same few. */
  private readonly scopeSets = new Map<string, ReadonlySet<string>>();
  private readonly acceptedTyp: Set<string>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly keys: KeySource,
  ) {
    this.acceptedTyp = new Set(config.auth.acceptedTyp.map((t) => t.toLowerCase()));
  }

  /** The caller of a token verified before and cached still, without a promise (the guard asks per request); else undefined. */
  cachedCaller(token: string): Caller | undefined {
    return this.cached(cacheKey(token));
  }

  async verify(token: string): Promise<Caller> {
    const key = cacheKey(token);
    const cached = this.cached(key);
    if (cached) return cached;
    const now = Date.now();

    const payload = await this.verifySignatureAndClaims(token);
    const scopes = this.sharedScopes(scopesOf(payload));
    const caller: Caller = {
      sub: payload.sub!,
      mode: resolveMode(scopes),
      scopes,
      username: typeof payload.preferred_username === 'string' ? payload.preferred_username : undefined,
    };
    this.remember(key, caller, Math.min(payload.exp! * 1000, now + CACHE_TTL_MS));
    return caller;
  }

  private sharedScopes(scopes: Set<string>): ReadonlySet<string> {
    const list = [...scopes].sort().join(' ');
    const known = this.scopeSets.get(list);
    if (known) return known;
    if (this.scopeSets.size < SHARED_SCOPES_MAX) this.scopeSets.set(list, scopes);
    return scopes;
  }

  private async verifySignatureAndClaims(token: string): Promise<JWTPayload> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, (header) => this.keys.keyFor(header), {
        algorithms: [...ALLOWED_ALGORITHMS],
        issuer: this.keys.issuer,
        audience: this.config.auth.audience,
        clockTolerance: this.config.auth.clockSkewS,
        requiredClaims: ['exp', 'sub'],
      });
      // jose checks only that `sub` is present; every store keys on it as a string (RFC 7519: StringOrURI).
      if (typeof payload.sub !== 'string' || payload.sub === '') throw invalidToken('the token has no subject');
      const malformed = malformedClaim(payload);
      if (malformed !== undefined) throw invalidToken(malformed);
      if (!this.acceptedTyp.has(String(protectedHeader.typ ?? '').toLowerCase())) {
        throw invalidToken(`token type "${protectedHeader.typ ?? ''}" is not an accepted access token type`);
      }
      // An ID token is not an access token, even when it is signed by the same issuer.
      if (payload.nonce !== undefined || payload.at_hash !== undefined || payload.typ === 'ID') {
        throw invalidToken('an ID token was sent where an access token is required');
      }
      return payload;
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): VoraError {
    if (error instanceof VoraError) return error;
    if (error instanceof KeysUnavailableError) {
      return VoraError.unavailable('the token issuer keys are not available yet; retry shortly');
    }
    if (error instanceof UnknownKeyError) return invalidToken('the token is signed by an unknown key');
    if (error instanceof joseErrors.JWTExpired) return invalidToken('the token has expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      const byClaim: Record<string, string> = {
        nbf: 'the token is not valid yet',
        iss: 'the token was not issued by the trusted issuer',
        aud: 'the token is meant for another audience',
        exp: 'the token has no expiry',
        sub: 'the token has no subject',
      };
      return invalidToken(byClaim[error.claim] ?? `the "${error.claim}" claim is invalid`);
    }
    if (error instanceof joseErrors.JOSEAlgNotAllowed) return invalidToken('the signing algorithm is not allowed');
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) return invalidToken('the signature is invalid');
    if (error instanceof joseErrors.JOSENotSupported) return invalidToken('the signing algorithm is not supported');
    return invalidToken('the token is malformed');
  }

  /** The cached caller under `key` while its entry lives; an expired entry is dropped. */
  private cached(key: string): Caller | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > Date.now()) return entry.caller;
    this.cache.delete(key);
    return undefined;
  }

  private remember(key: string, caller: Caller, expiresAt: number): void {
    if (this.cache.size >= CACHE_LIMIT) {
      // Maps iterate in insertion order: drop the oldest entry.
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, { caller, expiresAt });
  }
}
