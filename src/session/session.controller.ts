import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { CurrentClient, Requires } from '../auth/access.decorator';
import { ClientCaller } from '../auth/caller';
import { ApiClientRateLimited, ApiSeedErrors, EXAMPLE_IDENTITY } from '../common/api-responses';
import { SetupIn, SetupOut } from './session.dto';
import { SessionService } from './session.service';

@Controller()
export class SessionController {
  constructor(private readonly sessions: SessionService) {}

  @Post('identity/setup')
  @HttpCode(200)
  @Requires('user', 'manager', 'ott', 'admin')
  @ApiTags('identity')
  @ApiOperation({
    summary: 'User Initial Setup',
    description:
      'The action will be used to get the session setup right after the registration process by default. The application is required to provide the connectionType and it will be informed the subscriber phone number details for further usage.',
  })
  @ApiExtraModels(SetupIn)
  @ApiBody({
    schema: { $ref: getSchemaPath(SetupIn) },
    examples: {
      web: { summary: 'A web client', value: { connectionType: 'WEB', identity: EXAMPLE_IDENTITY } },
      mobileHoldUp: {
        summary: 'A mobile app woken by a push for incoming calls (holdUpMode needs MOBILE)',
        value: { connectionType: 'MOBILE', identity: EXAMPLE_IDENTITY, holdUpMode: true },
      },
    },
  })
  @ApiOkResponse({ description: 'Successful operation', type: SetupOut })
  @ApiSeedErrors({
    400: { summary: 'holdUpMode without MOBILE', message: 'holdUpMode is allowed only with connectionType MOBILE' },
    403: { summary: "Someone else's number", message: 'identity +905321110003 is not assigned to this account' },
    404: { summary: 'A caller missing from the directory', message: 'no VORA account is registered for user "zoe"' },
    409: {
      summary: 'MAX_SESSIONS_PER_USER live sessions already',
      message: 'this account already has 10 live sessions, the most allowed; log out of one before opening another',
    },
  })
  @ApiClientRateLimited()
  async setup(@CurrentClient() caller: ClientCaller, @Body() input: SetupIn): Promise<SetupOut> {
    return { webSocketToken: await this.sessions.setup(caller, input) };
  }

  @Post('logout/:identity')
  @HttpCode(200)
  @Requires('user', 'manager', 'ott', 'admin')
  @ApiTags('logout')
  @ApiOperation({
    summary: 'User Log Out',
    description:
      'The action will be used to clean up the existing REST and WS connections after the user log out.',
  })
  @ApiParam({ name: 'identity', description: 'An identity of the caller (E.164; "+" may be sent as %2B).', example: EXAMPLE_IDENTITY })
  @ApiOkResponse({ description: 'Successful operation' })
  @ApiSeedErrors({
    400: { summary: 'A malformed percent-encoding in the path', message: 'the request URL is malformed' },
    403: { summary: "Someone else's number", message: 'identity +905321110003 is not assigned to this account' },
    404: { summary: 'No session (or already logged out)', message: `there is no live session for identity ${EXAMPLE_IDENTITY}` },
  })
  @ApiClientRateLimited()
  async logout(@CurrentClient() caller: ClientCaller, @Param('identity') identity: string): Promise<void> {
    await this.sessions.logout(caller, identity);
  }
}
