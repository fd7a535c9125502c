import { DynamicModule, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ConfigModule } from '../../config/config.module';
import { GatewayConfig } from '../../config/gateway-config';
import { KeySource } from '../key-source';
import { DevIssuerKey } from './dev-issuer';
import { DevIssuerController } from './dev-issuer.controller';
import { DevKeySource } from './dev-key-source';
import { DEV_JWT_OPTIONS, DevTokenSigner } from './dev-token-signer';

/**
 * The gateway as its own token issuer, for development only. AuthModule loads
 * it only when no external issuer is configured, and configuration refuses
 * that combination in production.
 */
@Module({
  imports: [JwtModule.register(DEV_JWT_OPTIONS)],
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
    DevTokenSigner,
    { provide: KeySource, inject: [DevIssuerKey], useFactory: (key: DevIssuerKey) => new DevKeySource(key) },
  ],
  exports: [KeySource, DevTokenSigner],
})
export class DevIssuerModule {}

export interface StandaloneDevIssuer {
  readonly signer: DevTokenSigner;
  close(): Promise<void>;
}

/**
 * The development issuer outside the gateway (`npm run token`, the soak's
 * clients): this module alone in a Nest application context, signing with
 * the key and audience that `config` names. Silent, so that a printed token
 * is the only output.
 */
export async function openDevIssuer(config: GatewayConfig): Promise<StandaloneDevIssuer> {
  const root: DynamicModule = { module: DevIssuerModule, imports: [ConfigModule.forRoot(config)] };
  const context = await NestFactory.createApplicationContext(root, { logger: false });
  return { signer: context.get(DevTokenSigner), close: () => context.close() };
}
