import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiAcceptedResponse, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Requires } from '../auth/access.decorator';
import { ResponseStatusVoraError } from '../common/error-body';
import { INGRESS_ROUTE } from '../common/route-config';
import { EventCatalogue } from './catalogue';
import { Metrics } from '../metrics/metrics';
import { EventRouter } from './event-router';
import { MAX_BATCH, parsePublished } from './ingress';

const PUBLISHED_EVENT_SCHEMA = {
  type: 'object',
  required: ['event'],
  additionalProperties: false,
  properties: {
    event: { type: 'string', example: 'CallDelivered', description: 'A name from the event catalogue' },
    identity: { type: 'string', example: '+905321110001', description: 'E.164 target of identity events' },
    group: { type: 'string', example: 'sales', description: 'Target of group events (AgentStateChanged, QueueStatusChanged)' },
    data: { type: 'object', example: { callId: 'c-1', direction: 'terminating', remoteParty: '+905551112233' } },
    occurredAt: { type: 'string', format: 'date-time' },
  },
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
  @ApiBody({ schema: { oneOf: [PUBLISHED_EVENT_SCHEMA, { type: 'array', maxItems: MAX_BATCH, items: PUBLISHED_EVENT_SCHEMA }] } })
  @ApiAcceptedResponse({ description: 'Accepted', schema: { type: 'object', properties: { accepted: { type: 'integer', example: 1 } } } })
  @ApiResponse({ status: 400, description: 'Bad Request', type: ResponseStatusVoraError })
  @ApiResponse({ status: 401, description: 'Unauthorized', type: ResponseStatusVoraError })
  @ApiResponse({ status: 403, description: 'The access token lacks vora:events:publish', type: ResponseStatusVoraError })
  @ApiResponse({ status: 413, description: 'Body over INGRESS_MAX_BODY_BYTES', type: ResponseStatusVoraError })
  @ApiResponse({ status: 429, description: 'Over INGRESS_RATE_LIMIT_PER_MINUTE events; see Retry-After', type: ResponseStatusVoraError })
  async publish(@Body() body: unknown): Promise<{ accepted: number }> {
    const events = parsePublished(body, this.catalogue);
    await this.router.route(events);
    this.metrics.eventsReceived.inc({ source: 'http' }, events.length);
    return { accepted: events.length };
  }
}
