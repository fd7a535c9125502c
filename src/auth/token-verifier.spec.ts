import { generateKeyPair, JWSHeaderParameters, KeyLike, SignJWT } from 'jose';
import { loadConfig } from '../config/load-config';
import { KeySource } from './key-source';
import { TokenVerifier } from './token-verifier';

const ISSUER = 'https://issuer.test';

/** One signing key, counting how often a signature had to be checked. */
class CountingKeys extends KeySource {
  readonly issuer = ISSUER;
  lookups = 0;

  constructor(private readonly key: KeyLike) {
    super();
  }

  async keyFor(_header: JWSHeaderParameters): Promise<KeyLike> {
    this.lookups++;
    return this.key;
  }

  isReady(): boolean {
    return true;
  }
}

/**
 * The verified-token cache: bounded, and an entry lives until the
 * earlier of `exp` and 60 s, so that a key removed from the issuer stops
 * working within a minute.
 */
describe('TokenVerifier cache', () => {
  let keys: CountingKeys;
  let verifier: TokenVerifier;
  let privateKey: KeyLike;
  let now: number;

  const sign = (sub: string, expiresInS = 3600) =>
    new SignJWT({ scope: 'vora:user' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience('vora-gateway')
      .setSubject(sub)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + expiresInS)
      .sign(privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    keys = new CountingKeys(pair.publicKey);
  });

  beforeEach(() => {
    // The real time: jose checks `exp` against the real clock; the cache reads Date.now, which the tests move.
    now = Date.now();
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    keys.lookups = 0;
    verifier = new TokenVerifier(loadConfig({ NODE_ENV: 'test', AUTH_ISSUER: ISSUER, AUTH_CLOCK_SKEW_S: '0' }), keys);
  });
  afterEach(() => jest.restoreAllMocks());

  it('checks a signature once, then answers from the cache, with or without a promise', async () => {
    const token = await sign('alice');
    expect(verifier.cachedCaller(token)).toBeUndefined();
    expect((await verifier.verify(token)).sub).toBe('alice');
    expect((await verifier.verify(token)).sub).toBe('alice');
    expect(verifier.cachedCaller(token)?.sub).toBe('alice');
    expect(keys.lookups).toBe(1);
  });

  it('checks the signature again after 60 s, even when the token is valid for longer', async () => {
    const token = await sign('alice');
    await verifier.verify(token);
    now += 59_000;
    await verifier.verify(token);
    expect(keys.lookups).toBe(1);
    now += 2_000;
    expect(verifier.cachedCaller(token)).toBeUndefined();
    await verifier.verify(token);
    expect(keys.lookups).toBe(2);
  });

  it('holds at most 10,000 tokens, dropping the oldest first', async () => {
    const first = await sign('user-0');
    await verifier.verify(first);
    for (let i = 1; i <= 10_000; i++) await verifier.verify(await sign(`user-${i}`));
    expect(keys.lookups).toBe(10_001);
    expect(verifier.cachedCaller(first)).toBeUndefined();
    await verifier.verify(first);
    expect(keys.lookups).toBe(10_002);
  });
});
