import { KeyObject, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { JwtModuleOptions, JwtService } from '@nestjs/jwt';
import { GatewayConfig } from '../../config/gateway-config';
import { DEV_ISSUER, DevIssuerKey } from './dev-issuer';

export interface DevTokenRequest {
  sub: string;
  scope: string;
  /** Default: the gateway's AUTH_AUDIENCE. */
  audience?: string;
  ttlS?: number;
  username?: string;
}

/** What every development token has in common: an RFC 9068 access token of the development issuer. */
export const DEV_JWT_OPTIONS: JwtModuleOptions = {
  signOptions: { algorithm: 'ES256', issuer: DEV_ISSUER, header: { alg: 'ES256', typ: 'at+jwt' } },
};

/**
 * Mints the development issuer's access tokens with `@nestjs/jwt`. Only
 * signing goes through it: the gateway verifies these tokens with `jose`,
 * under the same rules as an external issuer's (see TokenVerifier).
 */
@Injectable()
export class DevTokenSigner {
  constructor(
    private readonly jwt: JwtService,
    private readonly key: DevIssuerKey,
    private readonly config: GatewayConfig,
  ) {}

  sign(request: DevTokenRequest): Promise<string> {
    return this.jwt.signAsync(
      { scope: request.scope, preferred_username: request.username ?? request.sub },
      {
        privateKey: this.key.privateKey as KeyObject,
        keyid: this.key.publicJwk.kid,
        subject: request.sub,
        audience: request.audience ?? this.config.auth.audience,
        expiresIn: request.ttlS ?? 3600,
        jwtid: randomUUID(),
      },
    );
  }
}
