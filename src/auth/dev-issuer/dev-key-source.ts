import type { JWSHeaderParameters, KeyLike } from 'jose';
import { KeySource, UnknownKeyError } from '../key-source';
import { DEV_ISSUER, DevIssuerKey } from './dev-issuer';

/** The development issuer's one key, checked with the same rules as any issuer's. */
export class DevKeySource extends KeySource {
  readonly issuer = DEV_ISSUER;

  constructor(private readonly key: DevIssuerKey) {
    super();
  }

  isReady(): boolean {
    return true;
  }

  async keyFor(header: JWSHeaderParameters): Promise<KeyLike> {
    const kidMatches = header.kid === undefined || header.kid === this.key.publicJwk.kid;
    if (header.alg !== 'ES256' || !kidMatches) {
      throw new UnknownKeyError('the token is signed by a key the issuer does not publish');
    }
    return this.key.publicKey;
  }
}
