import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module';
import { SessionEvents } from './session-events';
import { SessionController } from './session.controller';
import { SessionService } from './session.service';

@Module({
  imports: [IdentityModule],
  controllers: [SessionController],
  providers: [SessionService, SessionEvents],
  exports: [SessionService, SessionEvents, IdentityModule],
})
export class SessionModule {}
