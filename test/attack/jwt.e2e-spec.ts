import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { createHmac, createPublicKey, createSign } from 'node:crypto';
import { AttackerServer, b64url, expectInvalidToken, expectInvalidTokenExactly, nowS, startAttackerServer } from './attack-kit';
import { ALICE, ALICE_FIXED } from '../support/fixtures';
import { expectError, http, HttpResult, SigningKey, TestIssuer, useGateway } from '../support/harness';

/**
 * Every JWT attack of SPEC section 2, against a read (GET /identity, with the
 * token in the header and in the query) and a write (POST /identity/setup).
 * Each must be refused as RFC 6750 invalid_token, for the right reason.
 */

/** The error_description each refusal must carry (also the tail of the body's message). */
const WHY = {
  alg: 'the signing algorithm is not allowed',
  unknownKey: 'the token is signed by an unknown key',
  signature: 'the signature is invalid',
  malformed: 'the token is malformed',
  expired: 'the token has expired',
  notYet: 'the token is not valid yet',
  issuer: 'the token was not issued by the trusted issuer',
  audience: 'the token is meant for another audience',
  noExp: 'the token has no expiry',
  noSub: 'the token has no subject',
  idToken: 'an ID token was sent where an access token is required',
} as const;

interface Attack {
  name: string;
  token: () => Promise<string>;
  /** undefined: any invalid_token description will do (several checks can catch it first). */
  why?: string;
}

describe('attack: JWT access tokens (SPEC section 2)', () => {
  let attackerJwks: AttackerServer;
  let rsa: SigningKey;
  let pss: SigningKey;
  let ec: SigningKey;
  let attacker: SigningKey;

  /** The claims a valid access token of the issuer carries, for tokens built by hand. */
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = nowS();
    return { iss: issuer.issuer, aud: issuer.audience, sub: 'alice', scope: 'vora:user', iat: now, exp: now + 300, ...extra };
  };
  /** Signs any header and payload with an RSA key by hand, past every check a JOSE library makes when signing. */
  const signRaw = async (key: SigningKey, header: Record<string, unknown>, payload: string): Promise<string> => {
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(key.privateKey as never, 'base64url')}`;
  };
  const hs256 = (header: Record<string, unknown>, payload: Record<string, unknown>, secret: Buffer | string): string => {
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const rsaPem = (type: 'spki' | 'pkcs1') =>
    createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }).export({ type, format: 'pem' }) as string;

  // Rate limits high enough that the attack table itself is never throttled.
  const { issuer, gateway } = useGateway(
    { RATE_LIMIT_PER_MINUTE: '100000' },
    {
      beforeStart: async (issuer) => {
        rsa = issuer.keys[0];
        pss = await TestIssuer.generateKey('PS256');
        ec = await TestIssuer.generateKey('ES256');
        issuer.keys.push(pss, ec);
        attacker = await TestIssuer.generateKey('RS256');
        attackerJwks = await startAttackerServer({ keys: [attacker.publicJwk] });
      },
    },
  );
  afterAll(() => attackerJwks?.close());

  const attacks: Attack[] = [
    // alg none and its spellings: an unsigned token.
    ...['none', 'None', 'NONE', 'nOnE'].map((alg) => ({
      name: `alg ${alg} (unsigned)`,
      token: async () => `${b64url({ alg, typ: 'at+jwt', kid: rsa.kid })}.${b64url(claims())}.`,
      why: WHY.alg,
    })),
    {
      name: 'alg none with a signature left in place',
      token: async () => {
        const [, payload, signature] = (await issuer.sign()).split('.');
        return `${b64url({ alg: 'none', typ: 'at+jwt' })}.${payload}.${signature}`;
      },
      why: WHY.alg,
    },
    // HS/RS confusion: the public key used as an HMAC secret.
    {
      name: 'HS256 keyed with the RSA public key (SPKI PEM)',
      token: async () => hs256({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }, claims(), rsaPem('spki')),
      why: WHY.alg,
    },
    {
      name: 'HS256 keyed with the RSA public key (PKCS#1 PEM)',
      token: async () => hs256({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }, claims(), rsaPem('pkcs1')),
      why: WHY.alg,
    },
    {
      name: 'HS256 keyed with the bytes of the JWK modulus n',
      token: async () => hs256({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }, claims(), Buffer.from(rsa.publicJwk.n!, 'base64url')),
      why: WHY.alg,
    },
    {
      name: 'HS256 keyed with the JWK modulus n as text',
      token: async () => hs256({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }, claims(), rsa.publicJwk.n!),
      why: WHY.alg,
    },
    {
      name: 'HS256 keyed with the serialized JWK, without a kid',
      token: async () => hs256({ alg: 'HS256', typ: 'at+jwt' }, claims(), JSON.stringify(rsa.publicJwk)),
      why: WHY.alg,
    },
    ...['HS384', 'HS512', 'RS384', 'RS512', 'ES384', 'PS512', 'dir', 'RSA-OAEP', ''].map((alg) => ({
      name: `alg ${JSON.stringify(alg)} outside the allowlist`,
      token: async () => hs256({ alg, typ: 'at+jwt', kid: rsa.kid }, claims(), 'secret'),
    })),
    // Each key signs only with its own algorithm.
    {
      name: 'RS256 key (JWK alg RS256) used as PS256',
      token: async () => issuer.sign({ key: { ...rsa, alg: 'PS256' } }),
      why: WHY.unknownKey,
    },
    {
      name: 'PS256 key (JWK alg PS256) used as RS256',
      token: async () => issuer.sign({ key: { ...pss, alg: 'RS256' } }),
      why: WHY.unknownKey,
    },
    {
      name: 'the kid of the ES256 key with alg RS256',
      token: async () => issuer.sign({ key: { ...rsa, kid: ec.kid } }),
      why: WHY.unknownKey,
    },
    {
      name: 'ES256 "psychic signature" (r = s = 0)',
      token: async () => {
        const [header, payload] = (await issuer.sign({ key: ec })).split('.');
        return `${header}.${payload}.${Buffer.alloc(64).toString('base64url')}`;
      },
      why: WHY.signature,
    },
    // The header cannot choose the key.
    {
      name: 'embedded jwk carrying the attacker key and its kid',
      token: async () => issuer.sign({ key: attacker, header: { jwk: attacker.publicJwk } }),
      why: WHY.unknownKey,
    },
    {
      name: 'embedded jwk with the kid of an issuer key',
      token: async () => issuer.sign({ key: { ...attacker, kid: rsa.kid }, header: { jwk: { ...attacker.publicJwk, kid: rsa.kid } } }),
      why: WHY.signature,
    },
    {
      name: 'embedded jwk without a kid',
      token: async () => issuer.sign({ key: attacker, header: { kid: undefined, jwk: attacker.publicJwk } }),
    },
    {
      name: 'jku pointing at the attacker JWKS',
      token: async () => issuer.sign({ key: attacker, header: { jku: `${attackerJwks.url}/jwks` } }),
      why: WHY.unknownKey,
    },
    {
      name: 'jku pointing at the attacker JWKS, kid of an issuer key',
      token: async () => issuer.sign({ key: { ...attacker, kid: rsa.kid }, header: { jku: `${attackerJwks.url}/jwks` } }),
      why: WHY.signature,
    },
    {
      name: 'x5u pointing at the attacker server',
      token: async () => issuer.sign({ key: attacker, header: { x5u: `${attackerJwks.url}/cert.pem` } }),
      why: WHY.unknownKey,
    },
    {
      name: 'x5u pointing at the attacker server, kid of an issuer key',
      token: async () => issuer.sign({ key: { ...attacker, kid: rsa.kid }, header: { x5u: `${attackerJwks.url}/cert.pem` } }),
      why: WHY.signature,
    },
    {
      name: 'x5c with a made-up certificate chain',
      token: async () => issuer.sign({ key: { ...attacker, kid: rsa.kid }, header: { x5c: [Buffer.from('not a cert').toString('base64')] } }),
      why: WHY.signature,
    },
    // kid only selects among the issuer's keys.
    ...[
      ['a path traversal', '../../../../etc/passwd'],
      ['a path traversal to /dev/null', '../../../../../../dev/null'],
      ['SQL injection', "' OR 1=1 --"],
      ['a URL', 'http://127.0.0.1:1/jwks'],
      ['a very long value (4 KiB)', 'k'.repeat(4096)],
      ['an empty string', ''],
      ['control characters', 'a\u0000b\r\nSet-Cookie: x=y'],
    ].map(([what, kid]) => ({
      name: `kid with ${what}`,
      token: () => issuer.sign({ header: { kid } }),
      why: WHY.unknownKey,
    })),
    ...[
      ['a number', 42],
      ['an object', { $ne: null }],
      ['an array', ['kid']],
      ['null', null],
    ].map(([what, kid]) => ({
      name: `kid that is ${what as string}`,
      token: () => signRaw(rsa, { alg: 'RS256', typ: 'at+jwt', kid }, JSON.stringify(claims())),
    })),
    {
      name: 'kid of a key the issuer does not publish',
      token: () => issuer.sign({ key: attacker }),
      why: WHY.unknownKey,
    },
    {
      name: 'a different key presented under the kid of the issuer key',
      token: () => issuer.sign({ key: { ...attacker, kid: rsa.kid } }),
      why: WHY.signature,
    },
    {
      name: 'a different key of the same type and curve under the kid of the ES256 key',
      token: async () => {
        const pair = await generateKeyPair('ES256', { extractable: true });
        const impostor: SigningKey = { kid: ec.kid, alg: 'ES256', privateKey: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) };
        return issuer.sign({ key: impostor });
      },
      why: WHY.signature,
    },
    // Claims.
    { name: 'expired', token: () => issuer.sign({ claims: { exp: nowS() - 120 } }), why: WHY.expired },
    { name: 'expired long ago', token: () => issuer.sign({ claims: { iat: 1, exp: 2 } }), why: WHY.expired },
    { name: 'nbf in the future', token: () => issuer.sign({ claims: { nbf: nowS() + 300 } }), why: WHY.notYet },
    { name: 'wrong iss', token: () => issuer.sign({ claims: { iss: 'https://evil.example' } }), why: WHY.issuer },
    { name: 'iss with a trailing slash', token: () => issuer.sign({ claims: { iss: `${issuer.issuer}/` } }), why: WHY.issuer },
    { name: 'iss missing', token: () => issuer.sign({ claims: { iss: undefined } }), why: WHY.issuer },
    { name: 'wrong aud', token: () => issuer.sign({ claims: { aud: 'another-api' } }), why: WHY.audience },
    { name: 'aud array without ours', token: () => issuer.sign({ claims: { aud: ['another-api', 'vora-gateway-admin'] } }), why: WHY.audience },
    { name: 'aud missing', token: () => issuer.sign({ claims: { aud: undefined } }), why: WHY.audience },
    { name: 'exp missing', token: () => issuer.sign({ claims: { exp: undefined } }), why: WHY.noExp },
    { name: 'exp as a string', token: () => issuer.sign({ claims: { exp: String(nowS() + 300) } }) },
    { name: 'sub missing', token: () => issuer.sign({ claims: { sub: undefined } }), why: WHY.noSub },
    { name: 'sub that is not a string', token: () => issuer.sign({ claims: { sub: { $ne: null } } }), why: WHY.noSub },
    { name: 'sub that is empty', token: () => issuer.sign({ claims: { sub: '' } }), why: WHY.noSub },
    // An ID token is not an access token.
    { name: 'ID token (nonce claim)', token: () => issuer.sign({ claims: { nonce: 'n-0S6_WzA2Mj' } }), why: WHY.idToken },
    { name: 'ID token (at_hash claim)', token: () => issuer.sign({ claims: { at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' } }), why: WHY.idToken },
    { name: 'ID token (Keycloak typ claim ID)', token: () => issuer.sign({ claims: { typ: 'ID' } }), why: WHY.idToken },
    {
      name: 'ID token (typ header id+jwt)',
      token: () => issuer.sign({ header: { typ: 'id+jwt' } }),
      why: 'token type "id+jwt" is not an accepted access token type',
    },
    { name: 'no typ header', token: () => issuer.sign({ header: { typ: undefined } }) },
    { name: 'typ header logout+jwt', token: () => issuer.sign({ header: { typ: 'logout+jwt' } }) },
    // Structure.
    {
      name: 'truncated to header.payload',
      token: async () => (await issuer.sign()).split('.').slice(0, 2).join('.'),
      why: WHY.malformed,
    },
    {
      name: 'truncated in the signature',
      token: async () => {
        const token = await issuer.sign();
        return token.slice(0, token.length - 20);
      },
      why: WHY.signature,
    },
    {
      name: 'signature stripped (header.payload.)',
      token: async () => `${(await issuer.sign()).split('.').slice(0, 2).join('.')}.`,
      why: WHY.signature,
    },
    { name: 'an extra segment', token: async () => `${await issuer.sign()}.${b64url('{}')}`, why: WHY.malformed },
    { name: 'five segments (JWE shape)', token: async () => `${await issuer.sign()}.a.b`, why: WHY.malformed },
    { name: 'non-base64url segments', token: async () => '!!!.@@@.###', why: WHY.malformed },
    {
      name: 'a header that is not JSON',
      token: async () => `${b64url('{"alg":"RS256"')}.${b64url(claims())}.${'A'.repeat(342)}`,
      why: WHY.malformed,
    },
    {
      name: 'a header that is a JSON array',
      token: async () => `${b64url([{ alg: 'RS256' }])}.${b64url(claims())}.${'A'.repeat(342)}`,
      why: WHY.malformed,
    },
    {
      name: 'a signed payload that is not a JSON object',
      token: () => signRaw(rsa, { alg: 'RS256', typ: 'at+jwt', kid: rsa.kid }, '["alice","vora:user"]'),
      why: WHY.malformed,
    },
    {
      name: 'a signed payload that is not JSON',
      token: () => signRaw(rsa, { alg: 'RS256', typ: 'at+jwt', kid: rsa.kid }, 'sub=alice&scope=vora:user'),
      why: WHY.malformed,
    },
    {
      name: 'a critical header parameter the gateway does not understand',
      token: () => signRaw(rsa, { alg: 'RS256', typ: 'at+jwt', kid: rsa.kid, crit: ['exp-v2'], 'exp-v2': 1 }, JSON.stringify(claims())),
    },
    {
      name: 'unencoded payload (b64: false)',
      token: () =>
        new CompactSign(Buffer.from(JSON.stringify(claims())))
          .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: rsa.kid, b64: false, crit: ['b64'] })
          .sign(rsa.privateKey),
    },
    {
      name: 'a huge token (8 KiB)',
      token: async () => `${b64url({ alg: 'RS256', typ: 'at+jwt', kid: rsa.kid })}.${b64url(claims({ pad: 'x'.repeat(6000) }))}.${'A'.repeat(342)}`,
      why: WHY.signature,
    },
    {
      name: 'a validly signed token with the signature of another token',
      token: async () => {
        const [header, payload] = (await issuer.sign({ sub: 'bob' })).split('.');
        const [, , signature] = (await issuer.sign({ sub: 'alice' })).split('.');
        return `${header}.${payload}.${signature}`;
      },
      why: WHY.signature,
    },
    {
      name: 'an RSA signature over the token made with a raw PKCS#1 v1.5 signer and a foreign key',
      token: async () => {
        const pair = await generateKeyPair('RS256', { extractable: true });
        const input = `${b64url({ alg: 'RS256', typ: 'at+jwt', kid: rsa.kid })}.${b64url(claims())}`;
        const signature = createSign('RSA-SHA256').update(input).sign(pair.privateKey as never, 'base64url');
        return `${input}.${signature}`;
      },
      why: WHY.signature,
    },
  ];

  const targets: Array<[string, (token: string) => Promise<HttpResult>]> = [
    ['GET /identity (Authorization header)', (token) => http(`${gateway.url}/identity`, { token })],
    ['GET /identity (access_token query)', (token) => http(`${gateway.url}/identity?access_token=${encodeURIComponent(token)}`)],
    [
      'POST /identity/setup',
      (token) => http(`${gateway.url}/identity/setup`, { token, body: { connectionType: 'WEB', identity: ALICE } }),
    ],
  ];

  it('accepts a valid token on every target (the baseline the attacks are measured against)', async () => {
    const token = await issuer.sign();
    for (const [, call] of targets) expect((await call(token)).status).toBe(200);
  });

  describe.each(targets)('%s', (_target, call) => {
    it.each(attacks.map((attack) => [attack.name, attack] as const))('refuses %s with 401 invalid_token', async (_name, attack) => {
      const result = await call(await attack.token());
      expectInvalidToken(result, attack.why);
    });
  });

  it('never contacted the server a jku or x5u pointed at', () => {
    expect(attackerJwks.requests).toEqual([]);
  });

  it('let the made-up kids above (over a hundred) refetch the issuer JWKS at most once per cooldown', () => {
    // One load at start-up, then at most one refetch per 30 s of unknown kids; the table runs in far less.
    expect(issuer.jwksRequests).toBeLessThanOrEqual(3);
  });

  it('answers a token too large for the request headers with 431 and the error body', async () => {
    const result = await http(`${gateway.url}/identity`, { token: `${b64url({ alg: 'RS256' })}.${'A'.repeat(20_000)}.AAAA` });
    expectError(result, 431);
  });

  it('quotes nothing the attacker sent in the challenge header beyond the allowed characters', async () => {
    const token = await issuer.sign({ header: { typ: 'a"b\\c\u0007,error="fake"' } });
    const result = await http(`${gateway.url}/identity`, { token });
    expectInvalidToken(result);
    expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="vora", error="invalid_token", error_description="[^"]*"$/);
  });
});

/** The algorithms and keys an access token may use, through GET /identity, each refusal with its exact challenge. */
describe('security_auth against an external issuer', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let pss: SigningKey;
  let ed: SigningKey;
  const { issuer, gateway } = useGateway(
    {},
    {
      beforeStart: async (issuer) => {
        rsa = issuer.keys[0];
        ec = await TestIssuer.generateKey('ES256');
        pss = await TestIssuer.generateKey('PS256');
        ed = await TestIssuer.generateKey('EdDSA');
        issuer.keys.push(ec, pss, ed);
      },
    },
  );
  const identity = (token: string, query = '') => http(`${gateway.url}/identity${query}`, { token });
  /** The RFC 9068 claims the test issuer puts in every token, for tokens built by hand. */
  const claims = (issuer: TestIssuer, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = nowS();
    return { iss: issuer.issuer, aud: issuer.audience, sub: 'alice', scope: 'vora:user', iat: now, exp: now + 300, ...extra };
  };

  describe('algorithms and keys', () => {
    it('refuses alg none (an unsigned token)', async () => {
      const token = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(claims(issuer))}.`;
      expectInvalidTokenExactly(await identity(token), 'the signing algorithm is not allowed');
    });

    it('refuses HS256 signed with the RSA public key as the HMAC secret', async () => {
      const pem = createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid })}.${b64url(claims(issuer))}`;
      const signature = createHmac('sha256', pem).update(input).digest('base64url');
      expectInvalidTokenExactly(await identity(`${input}.${signature}`), 'the signing algorithm is not allowed');
    });

    it('refuses an algorithm outside the allowlist (RS384)', async () => {
      const token = await issuer.sign({ key: { ...rsa, alg: 'RS384' as never } });
      expectInvalidTokenExactly(await identity(token), 'the signing algorithm is not allowed');
    });

    it('refuses an unknown kid', async () => {
      const token = await issuer.sign({ header: { kid: 'no-such-key' } });
      expectInvalidTokenExactly(await identity(token), 'the token is signed by an unknown key');
    });

    it('refuses a tampered signature', async () => {
      const token = await issuer.sign();
      const [header, payload, signature] = token.split('.');
      const middle = Math.floor(signature.length / 2);
      const flipped = signature[middle] === 'A' ? 'B' : 'A';
      const tampered = `${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
      expectInvalidTokenExactly(await identity(tampered), 'the signature is invalid');
    });

    it('refuses a tampered payload', async () => {
      const [header, , signature] = (await issuer.sign()).split('.');
      const payload = b64url(claims(issuer, { scope: 'vora:admin' }));
      expectInvalidTokenExactly(await identity(`${header}.${payload}.${signature}`), 'the signature is invalid');
    });

    it('refuses a garbage string', async () => {
      expectInvalidTokenExactly(await identity('not-a-jwt'), 'the token is malformed');
      expectInvalidTokenExactly(await identity('a.b.c'), 'the token is malformed');
    });

    it.each(['ES256', 'PS256', 'EdDSA'] as const)('accepts a %s key of the issuer', async (alg) => {
      const key = { ES256: ec, PS256: pss, EdDSA: ed }[alg];
      const result = await identity(await issuer.sign({ key }));
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ identities: [ALICE, ALICE_FIXED] });
    });

    it('refuses a key used with another algorithm than its own (RS256 key, PS256 header)', async () => {
      const token = await issuer.sign({ key: { ...rsa, alg: 'PS256' } });
      expectInvalidTokenExactly(await identity(token), 'the token is signed by an unknown key');
    });

    describe('the header cannot choose the key', () => {
      let attacker: TestIssuer;
      beforeAll(async () => {
        attacker = await TestIssuer.start();
      });
      afterAll(() => attacker.close());

      it('ignores an embedded jwk carrying the attacker key and its kid', async () => {
        const key = attacker.keys[0];
        const token = await issuer.sign({ key, header: { jwk: key.publicJwk } });
        expectInvalidTokenExactly(await identity(token), 'the token is signed by an unknown key');
      });

      it('ignores an embedded jwk when the kid names an issuer key', async () => {
        const key = { ...attacker.keys[0], kid: rsa.kid };
        const token = await issuer.sign({ key, header: { jwk: attacker.keys[0].publicJwk } });
        expectInvalidTokenExactly(await identity(token), 'the signature is invalid');
      });

      it('ignores an embedded jwk without a kid', async () => {
        const token = await issuer.sign({ key: attacker.keys[0], header: { kid: undefined, jwk: attacker.keys[0].publicJwk } });
        expectInvalidTokenExactly(await identity(token), 'the signature is invalid');
      });

      it('never fetches a jku or x5u the token points at', async () => {
        const key = attacker.keys[0];
        for (const header of [
          { jku: attacker.jwksUri },
          { jku: attacker.jwksUri, kid: rsa.kid },
          { x5u: `${attacker.issuer}/cert.pem`, kid: rsa.kid },
        ]) {
          const token = await issuer.sign({ key: { ...key, kid: header.kid ?? key.kid }, header });
          const result = await identity(token);
          expectError(result, 401);
          expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="vora", error="invalid_token"/);
        }
        expect(attacker.jwksRequests).toBe(0);
      });
    });
  });
});
