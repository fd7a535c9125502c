import { Controller, Get, Header, HttpCode, Options } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, Requires, CurrentCaller } from '../auth/access.decorator';
import { Caller } from '../auth/caller';
import { ApiClientRateLimited, ApiSeedErrors } from '../common/api-responses';
import { IdentityOut } from './identity.dto';
import { IdentityService } from './identity.service';

@ApiTags('identity')
@Controller('identity')
export class IdentityController {
  constructor(private readonly identities: IdentityService) {}

  @Get()
  @Requires('user', 'manager', 'ott', 'admin')
  @ApiOperation({
    summary: 'Get Identity',
    description:
      'VORA user can register with the defined username and password on the application but the selection for the preferred identity that it wants to use during the VORA session can change.',
  })
  @ApiOkResponse({ description: 'Successful operation', type: IdentityOut })
  @ApiSeedErrors({
    400: { summary: 'A token in the header and the query', message: 'send the access token in one place only, not in the header and the query' },
    403: {
      summary: 'A token without a mode scope',
      message: 'the access token has insufficient scope: one of vora:user vora:manager vora:ott vora:admin is required',
    },
    404: { summary: 'A caller missing from the directory', message: 'no VORA account is registered for user "zoe"' },
  })
  @ApiClientRateLimited()
  async list(@CurrentCaller() caller: Caller): Promise<IdentityOut> {
    return { identities: await this.identities.identitiesOf(caller) };
  }

  /** The seed answers OPTIONS itself (200 with a body); CORS headers are added by the CORS hook. */
  @Options()
  @Public()
  @HttpCode(200)
  @Header('Allow', 'GET, OPTIONS')
  @ApiOkResponse({ description: 'OK', type: IdentityOut })
  options(): IdentityOut {
    return {};
  }
}
