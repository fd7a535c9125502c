import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { CurrentClient, Requires } from '../auth/access.decorator';
import { ClientCaller } from '../auth/caller';
import { ApiClientRateLimited, ApiSeedErrors, EXAMPLE_IDENTITY } from '../common/api-responses';
import { EFFECTIVE_SUBSCRIPTION_SCHEMA, EffectiveSubscription, EventsIn } from './subscription.dto';
import { SubscriptionService } from './subscription.service';

@ApiTags('identity')
@Controller('identity')
export class SubscriptionController {
  constructor(private readonly subscriptions: SubscriptionService) {}

  /** Administrators have no events: the mode list leaves them out, so they get 403. */
  @Post(':identity/eventSubscription')
  @HttpCode(200)
  @Requires('user', 'manager', 'ott')
  @ApiOperation({
    summary: 'Events Subscription',
    description:
      'It will be executed also right after the registration by default and the application will be subscribe the required events that it will be informed throughout its registered session. Although it is triggerred automatically in the registration, the application user can sent is anytime to update the subscription state. It is enabled for both user and manager modes..',
  })
  @ApiParam({ name: 'identity', description: 'An identity of the caller (E.164; "+" may be sent as %2B).', example: EXAMPLE_IDENTITY })
  @ApiExtraModels(EventsIn)
  @ApiBody({
    schema: { $ref: getSchemaPath(EventsIn) },
    examples: {
      all: { summary: 'Every event the mode may have', value: { subscribeAll: true } },
      filtered: { summary: 'Only these events', value: { subscribeAll: false, events: ['CallDelivered', 'CallCleared'] } },
    },
  })
  @ApiOkResponse({ description: 'Successful operation', schema: EFFECTIVE_SUBSCRIPTION_SCHEMA })
  @ApiSeedErrors({
    400: { summary: 'events listed with subscribeAll: true', message: 'events must be absent or empty when subscribeAll is true' },
    403: { summary: 'An event the mode may not have', message: 'mode ott may not subscribe to: PresenceChanged' },
    404: {
      summary: 'No session for the identity yet',
      message: `there is no live session for identity ${EXAMPLE_IDENTITY}; call /identity/setup first`,
    },
  })
  @ApiClientRateLimited()
  change(
    @CurrentClient() caller: ClientCaller,
    @Param('identity') identity: string,
    @Body() input: EventsIn,
  ): Promise<EffectiveSubscription> {
    return this.subscriptions.change(caller, identity, input);
  }
}
