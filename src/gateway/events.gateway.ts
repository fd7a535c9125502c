import { IncomingMessage } from 'node:http';
import { BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { GatewayConfig } from '../config/gateway-config';
import { EventBufferStore } from '../events/event-buffer.store';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { HoldUpService } from '../holdup/holdup.service';
import { Metrics } from '../infra/metrics/metrics';
import { ClientConnection, ConnectionContext } from './client-connection';
import { HandshakeService } from './handshake.service';
import { CloseCode } from './protocol';
import { SocketRegistry } from './socket-registry';

/** Shutdown waits at most this long for sockets to finish their close handshake. */
const SHUTDOWN_CLOSE_WAIT_MS = 2_000;

/** `GET /ws` on the HTTP port: the handshake was checked by GatewayWsAdapter before the upgrade. */
@WebSocketGateway({ path: '/ws' })
export class EventsGateway implements OnGatewayConnection, BeforeApplicationShutdown {
  private readonly log = new Logger('WebSocket');
  private readonly context: ConnectionContext;

  constructor(
    config: GatewayConfig,
    buffer: EventBufferStore,
    subscriptions: SubscriptionService,
    metrics: Metrics,
    private readonly holdUp: HoldUpService,
    private readonly handshakes: HandshakeService,
    private readonly registry: SocketRegistry,
  ) {
    this.context = {
      answer: (session, callId, answer) => holdUp.answer(session, callId, answer),
      buffer,
      metrics,
      subscriptions,
      config: config.ws,
      log: this.log,
    };
  }

  /** The adapter corked the socket at the upgrade: the 101, the welcome and the replay leave in one write. */
  async handleConnection(socket: WebSocket, request: IncomingMessage): Promise<void> {
    try {
      await this.open(socket, request);
    } finally {
      request.socket.uncork();
    }
  }

  private async open(socket: WebSocket, request: IncomingMessage): Promise<void> {
    const handshake = this.handshakes.take(request);
    if (!handshake) return socket.close(CloseCode.InternalError, 'handshake state lost');
    if (this.handshakes.draining) return socket.close(CloseCode.GoingAway, 'gateway shutting down; reconnect and resume');
    const connection = new ClientConnection(socket, handshake.session, this.context);
    try {
      await this.registry.attach(connection);
      await connection.open(handshake.lastEventId);
      await this.holdUp.connected(handshake.session);
    } catch (error) {
      this.log.warn(`session ${handshake.session.id}: socket could not open: ${(error as Error).message}`);
      connection.close(CloseCode.InternalError, 'the gateway could not open the session; reconnect');
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // The HTTP server listens until the sockets are closed: a client told to reconnect must go elsewhere.
    this.handshakes.drain();
    if (!this.registry.size) return;
    this.registry.closeAll(CloseCode.GoingAway, 'gateway shutting down; reconnect and resume');
    const deadline = Date.now() + SHUTDOWN_CLOSE_WAIT_MS;
    while (this.registry.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.registry.terminateAll();
  }
}
