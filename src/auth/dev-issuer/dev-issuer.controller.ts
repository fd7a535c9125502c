import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../access.decorator';
import { DevIssuerKey } from './dev-issuer';

/** Publishes the development issuer's JWKS, so other tools can verify its tokens. */
@ApiExcludeController()
@Controller('dev-issuer')
export class DevIssuerController {
  constructor(private readonly key: DevIssuerKey) {}

  @Public()
  @Get('jwks.json')
  jwks(): { keys: object[] } {
    return { keys: [this.key.publicJwk] };
  }
}
