import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { EventsModule } from '../events/events.module';
import { HoldUpModule } from '../holdup/holdup.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { SessionModule } from '../session/session.module';
import { SubscriptionsModule } from '../subscriptions/subscriptions.module';
import { EventsGateway } from './events.gateway';
import { HandshakeService } from './handshake.service';
import { SocketRegistry } from './socket-registry';
import { WsInfoController } from './ws-info.controller';

@Module({
  imports: [ClusterModule, SessionModule, SubscriptionsModule, EventsModule, HoldUpModule, LifecycleModule],
  controllers: [WsInfoController],
  providers: [EventsGateway, HandshakeService, SocketRegistry],
  exports: [HandshakeService, SocketRegistry],
})
export class GatewayModule {}
