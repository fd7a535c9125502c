import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { IdentityModule } from '../identity/identity.module';
import { byStore } from '../infra/store-adapter';
import { MemoryPresenceStore } from './memory-presence.store';
import { MemorySessionStore } from './memory-session.store';
import { PresenceStore } from './presence.store';
import { RedisPresenceStore } from './redis-presence.store';
import { RedisSessionStore } from './redis-session.store';
import { SessionEvents } from './session-events';
import { SessionController } from './session.controller';
import { SessionService } from './session.service';
import { SessionStore } from './session.store';

@Module({
  imports: [IdentityModule, ClusterModule],
  controllers: [SessionController],
  providers: [
    SessionService,
    SessionEvents,
    byStore(SessionStore, { memory: MemorySessionStore, redis: RedisSessionStore }),
    byStore(PresenceStore, { memory: MemoryPresenceStore, redis: RedisPresenceStore }),
  ],
  exports: [SessionService, SessionEvents, SessionStore, PresenceStore],
})
export class SessionModule {}
