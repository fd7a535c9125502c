import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentCaller, Requires } from '../auth/access.decorator';
import { Caller } from '../auth/caller';
import { ApiSeedErrors } from '../common/api-responses';
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
  @ApiOkResponse({ description: 'Successful operation', type: SetupOut })
  @ApiSeedErrors()
  async setup(@CurrentCaller() caller: Caller, @Body() input: SetupIn): Promise<SetupOut> {
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
  @ApiParam({ name: 'identity', description: 'An identity of the caller (E.164; "+" may be sent as %2B).' })
  @ApiOkResponse({ description: 'Successful operation' })
  @ApiSeedErrors()
  async logout(@CurrentCaller() caller: Caller, @Param('identity') identity: string): Promise<void> {
    await this.sessions.logout(caller, identity);
  }
}
