import { Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { Directory } from './directory';
import { IdentityController } from './identity.controller';
import { IdentityService } from './identity.service';
import { JsonDirectory } from './json-directory';

@Module({
  controllers: [IdentityController],
  providers: [
    IdentityService,
    { provide: Directory, inject: [GatewayConfig], useFactory: (config: GatewayConfig) => JsonDirectory.fromFile(config.directoryFile) },
  ],
  exports: [IdentityService, Directory],
})
export class IdentityModule {}
