import { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { WebSocket, WebSocketServer } from 'ws';
import { REALM } from '../auth/token-verifier';
import { refuseConnection } from '../http/client-errors';
import { errorAnswer } from '../common/error-body';
import { StoreUnavailableError } from '../common/store-unavailable';
import { WebSocketConfig } from '../config/gateway-config';
import { HandshakeService } from './handshake.service';

type VerifyCallback = (accept: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

const log = new Logger('WebSocket');

/** One error listener for every socket rather than a closure each: memory per idle socket is a target. */
function logSocketError(this: WebSocket, error: Error): void {
  log.error(`socket error: ${error.message}`);
}

/**
 * The `ws` server on Fastify's HTTP server, with the handshake checked in
 * `verifyClient` (before the upgrade) and the limits of SPEC section 4.
 *
 * It takes the upgrades itself rather than through Nest's WsAdapter, which
 * parses every URL twice and binds closures to every socket. Messages are
 * read by ClientConnection; sockets are tracked (and closed at shutdown) by
 * SocketRegistry, so `ws` keeps no set of clients.
 */
export class GatewayWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly handshakes: HandshakeService,
    private readonly config: WebSocketConfig,
  ) {
    super(app);
  }

  override create(_port: number, options: Record<string, unknown> = {}): WebSocketServer {
    const path = typeof options.path === 'string' ? options.path : '/ws';
    const server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.config.maxPayloadBytes,
      perMessageDeflate: false,
      verifyClient: (info: { req: IncomingMessage }, done: VerifyCallback) => this.verify(info.req, done),
    });
    this.httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!isPath(request.url, path)) {
        return refuseConnection(socket, 404, `no WebSocket endpoint at ${request.url?.split('?')[0]}; use ${path}`);
      }
      server.handleUpgrade(request, socket, head, (ws) => server.emit('connection', ws, request));
    });
    // Upgrades `ws` refuses itself (no key, wrong version, wrong method) get the seed error body too.
    server.on('wsClientError', (error: Error, socket: Duplex) => {
      const status = /method/i.test(error.message) ? 405 : 400;
      refuseConnection(socket, status, `not a valid WebSocket upgrade: ${error.message}`);
    });
    server.on('connection', (ws: WebSocket) => ws.on('error', logSocketError));
    return server;
  }

  override bindMessageHandlers(): void {
    // ClientConnection handles the protocol's messages itself.
  }

  override bindClientDisconnect(): void {
    // EventsGateway has no disconnect hook: ClientConnection listens for the close itself.
  }

  override async close(server: WebSocketServer): Promise<void> {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private verify(request: IncomingMessage, done: VerifyCallback): void {
    this.handshakes.verify(request).then(
      (result) => {
        if (!result.accepted) return refuse(done, result.status, result.message, result.headers);
        // The 101 waits for the welcome and the replayed events: they leave in one write when
        // EventsGateway uncorks the socket, once they are sent.
        request.socket.cork();
        done(true);
      },
      (error: Error) => {
        if (error instanceof StoreUnavailableError) return refuse(done, 503, 'the session store is unavailable; retry shortly');
        log.error(`handshake failed: ${error.message}`);
        refuse(done, 500, 'the gateway failed to check the webSocketToken');
      },
    );
  }
}

/** Whether the request targets `path`: the plain case without parsing a URL. */
function isPath(url: string | undefined, path: string): boolean {
  if (url === path || url?.startsWith(`${path}?`)) return true;
  try {
    return new URL(url ?? '/', 'http://gateway').pathname === path;
  } catch {
    return false;
  }
}

function refuse(done: VerifyCallback, status: number, message: string, extra: Readonly<Record<string, string>> = {}): void {
  const challenge: Record<string, string> = status === 401 ? { 'WWW-Authenticate': REALM } : {};
  const answer = errorAnswer(status, message, { ...extra, ...challenge });
  done(false, status, answer.body, { ...answer.headers });
}
