import { Logger, Module } from '@nestjs/common';
import { GatewayConfig } from '../../config/gateway-config';
import { KeySource } from '../key-source';
import { DevIssuerKey } from './dev-issuer';
import { DevIssuerController } from './dev-issuer.controller';
import { DevKeySource } from './dev-key-source';

/**
 * The gateway as its own token issuer, for development only. AuthModule loads
 * it only when no external issuer is configured, and configuration refuses
 * that combination in production.
 */
@Module({
  controllers: [DevIssuerController],
  providers: [
    {
      provide: DevIssuerKey,
      inject: [GatewayConfig],
      useFactory: async (config: GatewayConfig) => {
        new Logger('Auth').warn(
          'development token issuer is ON: the gateway trusts tokens printed by `npm run token`. ' +
            'Set AUTH_ISSUER and AUTH_AUDIENCE to trust a real issuer.',
        );
        return DevIssuerKey.loadOrCreate(config.auth.devKeyDir);
      },
    },
    { provide: KeySource, inject: [DevIssuerKey], useFactory: (key: DevIssuerKey) => new DevKeySource(key) },
  ],
  exports: [KeySource],
})
export class DevIssuerModule {}
