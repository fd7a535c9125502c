/**
 * Baseline for the delivery, memory and reconnect benchmarks: the raw limit
 * of the gateway's own stack. Fastify takes the same batches on POST /events
 * and writes each event to its socket by one Map lookup; `ws` holds the
 * sockets (`GET /ws?identity=...`). No auth, no sessions, no buffer, no
 * subscriptions: what is left is parsing, serializing and writing.
 */
import Fastify from 'fastify';
import WebSocket, { WebSocketServer } from 'ws';

interface Target {
  socket: WebSocket;
  /** Per-identity ids, kept across reconnects like the gateway's per-session ids. */
  lastId: number;
}

interface Published {
  event: string;
  identity: string;
  data?: unknown;
}

const sockets = new Map<string, Target>();
const app = Fastify({ bodyLimit: 1024 * 1024 });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65_536 });

app.get('/health/liveness', (_request, reply) => {
  void reply.code(204).send();
});

app.post('/events', (request, reply) => {
  const body = request.body as Published | Published[];
  const items = Array.isArray(body) ? body : [body];
  const timestamp = new Date().toISOString();
  for (const item of items) {
    const target = sockets.get(item.identity);
    if (!target) continue;
    target.socket.send(
      JSON.stringify({ type: 'event', id: String(++target.lastId), event: item.event, identity: item.identity, timestamp, data: item.data }),
    );
  }
  void reply.code(202).send({ accepted: items.length });
});

app.server.on('upgrade', (request, socket, head) => {
  const url = new URL(request.url ?? '/', 'http://baseline');
  const identity = url.searchParams.get('identity');
  if (url.pathname !== '/ws' || !identity) {
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => {
    const known = sockets.get(identity);
    if (known) known.socket = ws;
    else sockets.set(identity, { socket: ws, lastId: 0 });
    ws.send('{"type":"welcome"}');
  });
});

const shutdown = () => {
  for (const client of wss.clients) client.terminate();
  void app.close().then(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' }).catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
