import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiAcceptedResponse, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Requires } from '../auth/access.decorator';
import { ApiErrorResponse, ApiRateLimited, EXAMPLE_IDENTITY } from '../common/api-responses';
import { INGRESS_ROUTE } from '../http/route-config';
import { EventCatalogue } from '../catalogue/catalogue';
import { Metrics } from '../infra/metrics/metrics';
import { EventRouter } from './event-router';
import { MAX_BATCH, parsePublished } from './ingress';

const PUBLISHED_EVENT_SCHEMA = {
  type: 'object',
  required: ['event'],
  additionalProperties: false,
  properties: {
    event: { type: 'string', example: 'CallDelivered', description: 'A name from the event catalogue' },
    identity: { type: 'string', example: EXAMPLE_IDENTITY, description: 'E.164 target of identity events' },
    group: { type: 'string', example: 'sales', description: 'Target of group events (AgentStateChanged, QueueStatusChanged)' },
    data: { type: 'object', example: { callId: 'c-1', direction: 'terminating', remoteParty: '+905551112233' } },
    occurredAt: { type: 'string', format: 'date-time' },
  },
};

const CALL_DELIVERED = {
  event: 'CallDelivered',
  identity: EXAMPLE_IDENTITY,
  data: { callId: 'c-1', direction: 'terminating', remoteParty: '+905551112233' },
};

@ApiTags('platform')
@Controller('events')
export class IngressController {
  constructor(
    private readonly catalogue: EventCatalogue,
    private readonly router: EventRouter,
    private readonly metrics: Metrics,
  ) {}

  @Post()
  @HttpCode(202)
  @RouteConfig(INGRESS_ROUTE)
  @Requires('platform')
  @ApiOperation({
    summary: 'Publish events',
    description: `The telephony core publishes one event or a batch of up to ${MAX_BATCH}. A batch with one invalid item is refused whole and nothing is published. Requires the scope vora:events:publish.`,
  })
  @ApiBody({
    schema: { oneOf: [PUBLISHED_EVENT_SCHEMA, { type: 'array', maxItems: MAX_BATCH, items: PUBLISHED_EVENT_SCHEMA }] },
    examples: {
      one: { summary: 'One event', value: CALL_DELIVERED },
      batch: {
        summary: 'A batch, published in order',
        value: [CALL_DELIVERED, { event: 'CallCleared', identity: EXAMPLE_IDENTITY, data: { ...CALL_DELIVERED.data } }],
      },
    },
  })
  @ApiAcceptedResponse({
    description: 'Accepted',
    schema: { type: 'object', required: ['accepted'], properties: { accepted: { type: 'integer', minimum: 1, example: 1 } } },
  })
  @ApiErrorResponse(400, 'Bad Request', { summary: 'An event outside the catalogue', message: 'event: unknown event "CallRinging"' })
  @ApiErrorResponse(401, 'Unauthorized', {
    summary: 'No access token sent',
    message: 'an access token is required: send Authorization: Bearer <token>',
  })
  @ApiErrorResponse(403, 'The access token lacks vora:events:publish', {
    summary: 'A client token',
    message: 'the access token has insufficient scope: one of vora:events:publish is required',
  })
  @ApiErrorResponse(413, 'Body over INGRESS_MAX_BODY_BYTES', {
    summary: 'Too many events in one request',
    message: 'the request body is larger than this endpoint accepts (INGRESS_MAX_BODY_BYTES); send fewer events per request',
  })
  @ApiRateLimited(
    'Over INGRESS_RATE_LIMIT_PER_MINUTE events; retry after Retry-After seconds',
    'rate limit exceeded: at most 60000 events per minute per caller; retry in 42 s',
  )
  async publish(@Body() body: unknown): Promise<{ accepted: number }> {
    const events = parsePublished(body, this.catalogue);
    await this.router.route(events);
    this.metrics.eventsReceived.inc({ source: 'http' }, events.length);
    return { accepted: events.length };
  }
}
