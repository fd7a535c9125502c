import { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { WebSocketServer } from 'ws';
import { refuseConnection } from '../common/client-errors';
import { errorBody } from '../common/error-body';
import { StoreUnavailableError } from '../common/store-unavailable';
import { WebSocketConfig } from '../config/gateway-config';
import { HandshakeService } from './handshake.service';

type VerifyCallback = (accept: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

/**
 * The `ws` adapter on Fastify's HTTP server, with the handshake checked in
 * `verifyClient` (before the upgrade) and the limits of SPEC section 4.
 * Messages are read by ClientConnection, not by Nest's `{event, data}` router.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly log = new Logger('WebSocket');

  constructor(
    app: INestApplicationContext,
    private readonly handshakes: HandshakeService,
    private readonly config: WebSocketConfig,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    const path = typeof options.path === 'string' ? options.path : '/ws';
    // Nest's adapter drops upgrades to other paths without a word; answer them first.
    this.httpServer.prependListener('upgrade', (request: IncomingMessage, socket: Duplex) => {
      if (new URL(request.url ?? '/', 'http://gateway').pathname !== path) {
        refuseConnection(socket, 404, `no WebSocket endpoint at ${request.url?.split('?')[0]}; use ${path}`);
      }
    });
    const server = super.create(port, {
      ...options,
      maxPayload: this.config.maxPayloadBytes,
      perMessageDeflate: false,
      verifyClient: (info: { req: IncomingMessage }, done: VerifyCallback) => {
        this.handshakes.verify(info.req).then(
          (result) => (result.accepted ? done(true) : refuse(done, result.status, result.message, result.headers)),
          (error: Error) => {
            if (error instanceof StoreUnavailableError) return refuse(done, 503, 'the session store is unavailable; retry shortly');
            this.log.error(`handshake failed: ${error.message}`);
            refuse(done, 500, 'the gateway failed to check the webSocketToken');
          },
        );
      },
    }) as WebSocketServer;
    // Upgrades `ws` refuses itself (no key, wrong version, wrong method) get the seed error body too.
    server.on('wsClientError', (error: Error, socket: Duplex) => {
      const status = /method/i.test(error.message) ? 405 : 400;
      refuseConnection(socket, status, `not a valid WebSocket upgrade: ${error.message}`);
    });
    return server;
  }

  override bindMessageHandlers(): void {
    // ClientConnection handles the protocol's messages itself.
  }
}

function refuse(done: VerifyCallback, status: number, message: string, extra: Readonly<Record<string, string>> = {}): void {
  const body = JSON.stringify(errorBody(status, message));
  const headers: Record<string, string> = { ...extra, 'Content-Type': 'application/json' };
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="vora"';
  done(false, status, body, headers);
}
