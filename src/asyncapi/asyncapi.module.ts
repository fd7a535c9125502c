import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { AsyncApiController } from './asyncapi.controller';

/** GET /asyncapi.json and /asyncapi: the WebSocket protocol for client developers (SPEC section 11). */
@Module({
  imports: [EventsModule],
  controllers: [AsyncApiController],
})
export class AsyncApiModule {}
