import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GatewayConfig } from '../config/gateway-config';
import { AccessGuard } from './access.guard';
import { DevIssuerModule } from './dev-issuer/dev-issuer.module';
import { JwksKeySource } from './jwks-key-source';
import { KeySource } from './key-source';
import { TokenVerifier } from './token-verifier';

@Module({})
export class AuthModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    const { issuer, jwksUri, allowHttp } = config.auth;
    const keys =
      issuer === undefined
      ? { imports: [DevIssuerModule], providers: [], exports: [DevIssuerModule] }
      : {
          imports: [],
          exports: [KeySource],
          providers: [
            {
              provide: KeySource,
              useFactory: async () => {
                const source = new JwksKeySource({
                  issuer,
                  jwksUri,
                  requireHttps: config.production && !allowHttp,
                });
                await source.warmUp();
                return source;
              },
            },
          ],
        };
    return {
      module: AuthModule,
      global: true,
      imports: keys.imports,
      providers: [...keys.providers, TokenVerifier, { provide: APP_GUARD, useClass: AccessGuard }],
      exports: [TokenVerifier, ...keys.exports],
    };
  }
}
