import { Module } from '@nestjs/common';
import { CatalogueModule } from '../catalogue/catalogue.module';
import { AsyncApiController } from './asyncapi.controller';

/** GET /asyncapi.json and /asyncapi: the WebSocket protocol for client developers (SPEC section 11). */
@Module({
  imports: [CatalogueModule],
  controllers: [AsyncApiController],
})
export class AsyncApiModule {}
