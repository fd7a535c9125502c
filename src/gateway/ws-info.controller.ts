import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/access.decorator';
import { ApiErrorResponse, ApiRateLimited } from '../common/api-responses';
import { VoraError } from '../common/vora-error';

const PROTOCOL = `Upgrade to a WebSocket with the webSocketToken from POST /identity/setup (in Authorization: Bearer or ?token=).
The first server message is {"type":"welcome","sessionId","identity","mode","subscription","heartbeatIntervalMs","lastEventId","recovered","expiresAt"}; its lastEventId is the newest id in the session's buffer ("0" when none), so a client knows how far the replay that follows goes, and expiresAt is when the session ends (SESSION_MAX_LIFETIME_S after setup).
Events follow as {"type":"event","id":"1","event":"CallDelivered","identity":"+90...","timestamp":"<ISO>","data":{...}} with per-session ids 1, 2, 3, ... (group events also carry "group").
Reconnect with ?lastEventId=<id> to replay every buffered event after it, as fast as the client reads; recovered:false says it had left the buffer.
Client messages: {"type":"ping"} (answered {"type":"pong"}), {"type":"ready","callId"} and {"type":"decline","callId"}; anything else gets {"type":"error","message"}.
Close codes: 4000 logged out, 4001 session expired or revoked, 4002 replaced, 4008 too slow, 1001 gateway shutting down, 1003 binary frame, 1008 repeated invalid messages or messages too fast, 1009 frame too big.
Swagger UI cannot open a WebSocket: "Try it out" sends a plain GET, answered 426. From a terminal, \`npm run ws -- --token <webSocketToken>\` prints every message and sends ping, ready and decline.`;

/** Documents the socket endpoint; a plain HTTP request (no upgrade) is told to upgrade. */
@ApiTags('websocket')
@Controller('ws')
export class WsInfoController {
  @Get()
  @Public()
  @ApiOperation({ summary: 'Event socket', description: PROTOCOL })
  @ApiQuery({
    name: 'token',
    required: false,
    description: 'The webSocketToken of POST /identity/setup, when not sent as Authorization: Bearer (never both)',
    schema: { type: 'string', minLength: 1, maxLength: 512 },
  })
  @ApiQuery({
    name: 'lastEventId',
    required: false,
    description:
      'Resume after this event id: the id of the last event processed ("0" replays the whole buffer). Without it, replay starts after the last event written to a socket of the session.',
    schema: { type: 'string', pattern: '^[0-9]{1,15}$', example: '0' },
  })
  @ApiResponse({ status: 101, description: 'Switching Protocols: the socket is open and the welcome message follows' })
  @ApiErrorResponse(400, 'Token in two places, or a malformed lastEventId', {
    summary: 'lastEventId is not a decimal id',
    message: 'lastEventId must be the decimal id of an event received earlier',
  })
  @ApiErrorResponse(401, 'Missing, unknown or revoked webSocketToken', {
    summary: 'A logged-out or expired session',
    message: 'the webSocketToken is unknown, revoked or expired',
  })
  @ApiErrorResponse(403, 'Origin not in WS_ALLOWED_ORIGINS', {
    summary: 'A browser page from another origin',
    message: 'origin https://elsewhere.example may not open a socket',
  })
  @ApiErrorResponse(426, 'Upgrade Required', {
    summary: 'A plain GET, as Swagger UI sends',
    message: 'GET /ws is a WebSocket endpoint: send an Upgrade: websocket request',
  })
  @ApiRateLimited(
    'MAX_SOCKETS_PER_USER or MAX_SOCKETS_PER_IP reached; retry after Retry-After seconds',
    'this account already holds 20 sockets on this gateway; close one before opening another',
  )
  @ApiErrorResponse(503, 'Shutting down, or the session store is unreachable', {
    summary: 'The gateway is draining',
    message: 'the gateway is shutting down; reconnect to resume',
  })
  upgradeRequired(): never {
    throw new VoraError(426, 'GET /ws is a WebSocket endpoint: send an Upgrade: websocket request', {
      upgrade: 'websocket',
    });
  }
}
