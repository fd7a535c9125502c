import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/access.decorator';
import { ResponseStatusVoraError } from '../common/error-body';
import { VoraError } from '../common/vora-error';

const PROTOCOL = `Upgrade to a WebSocket with the webSocketToken from POST /identity/setup (in Authorization: Bearer or ?token=).
The first server message is {"type":"welcome","sessionId","identity","mode","subscription","heartbeatIntervalMs","lastEventId","recovered","expiresAt"}; expiresAt is when the session ends (SESSION_MAX_LIFETIME_S after setup).
Events follow as {"type":"event","id":"1","event":"CallDelivered","identity":"+90...","timestamp":"<ISO>","data":{...}} with per-session ids 1, 2, 3, ... (group events also carry "group").
Reconnect with ?lastEventId=<id> to replay every buffered event after it, as fast as the client reads; recovered:false says it had left the buffer.
Client messages: {"type":"ping"} (answered {"type":"pong"}), {"type":"ready","callId"} and {"type":"decline","callId"}; anything else gets {"type":"error","message"}.
Close codes: 4000 logged out, 4001 session expired or revoked, 4002 replaced, 4008 too slow, 1001 gateway shutting down, 1003 binary frame, 1008 repeated invalid messages or messages too fast, 1009 frame too big.`;

/** Documents the socket endpoint; a plain HTTP request (no upgrade) is told to upgrade. */
@ApiTags('websocket')
@Controller('ws')
export class WsInfoController {
  @Get()
  @Public()
  @ApiOperation({ summary: 'Event socket', description: PROTOCOL })
  @ApiQuery({ name: 'token', required: false, description: 'The webSocketToken, when not sent as Authorization: Bearer' })
  @ApiQuery({ name: 'lastEventId', required: false, description: 'Resume after this event id' })
  @ApiResponse({ status: 101, description: 'Switching Protocols' })
  @ApiResponse({ status: 400, description: 'Token in two places, or a malformed lastEventId', type: ResponseStatusVoraError })
  @ApiResponse({ status: 401, description: 'Missing, unknown or revoked webSocketToken', type: ResponseStatusVoraError })
  @ApiResponse({ status: 403, description: 'Origin not in WS_ALLOWED_ORIGINS', type: ResponseStatusVoraError })
  @ApiResponse({ status: 426, description: 'Upgrade Required', type: ResponseStatusVoraError })
  @ApiResponse({ status: 429, description: 'MAX_SOCKETS_PER_USER or MAX_SOCKETS_PER_IP reached', type: ResponseStatusVoraError })
  @ApiResponse({ status: 503, description: 'Shutting down, or the session store is unreachable', type: ResponseStatusVoraError })
  upgradeRequired(): never {
    throw new VoraError(426, 'GET /ws is a WebSocket endpoint: send an Upgrade: websocket request', {
      upgrade: 'websocket',
    });
  }
}
