/**
 * A terminal client for the event socket:
 *
 *   npm run ws -- --token <webSocketToken> [--last-event-id N] [--url ws://localhost:3000/ws]
 *
 * Prints every server message as one line on stdout. Lines typed on stdin
 * are sent: `ping`, `ready <callId>`, `decline <callId>`, or a JSON message
 * as it is. It keeps running when stdin closes, until the socket closes, and
 * then says with which close code on stderr.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const USAGE = `usage: npm run ws -- --token <webSocketToken> [--last-event-id N] [--url ws://localhost:3000/ws]

  --token          the webSocketToken answered by POST /identity/setup (sent as Authorization: Bearer)
  --last-event-id  resume after this event id (the id of the last event you processed)
  --url            the socket endpoint (default ws://localhost:$PORT/ws, PORT being 3000 unless set, as for the gateway)

Type a line to send it: ping, ready <callId>, decline <callId>, or a JSON message.
Server messages are printed one per line; the close code is printed when the socket closes.`;

/** What each close code tells a client (SPEC section 4). */
const CLOSE_MEANINGS: Readonly<Record<number, string>> = {
  1000: 'closed normally',
  1001: 'gateway shutting down: reconnect and resume with --last-event-id',
  1003: 'binary frame refused',
  1006: 'connection lost without a close frame',
  1008: 'policy violation: too many invalid messages, or sending too fast',
  1009: 'frame over WS_MAX_PAYLOAD_BYTES',
  1011: 'gateway error: reconnect and resume with --last-event-id',
  4000: 'logged out',
  4001: 'session expired or token revoked: set up a new session',
  4002: 'replaced by a newer socket or setup of this session',
  4008: 'too slow to read: reconnect and resume with --last-event-id',
};

/** Exit codes: 0 closed by the protocol's normal ends, 1 anything else, 2 bad arguments. */
const NORMAL_CLOSES = new Set([1000, 4000]);

/** The options that take a value. */
const VALUED = new Set(['--token', '--last-event-id', '--url']);

/**
 * `--token X` as `--token=X`: a webSocketToken is base64url and may start
 * with `-`, which parseArgs would otherwise refuse as ambiguous.
 */
function joinedValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (VALUED.has(argv[i]) && i + 1 < argv.length) joined.push(`${argv[i]}=${argv[++i]}`);
    else joined.push(argv[i]);
  }
  return joined;
}

function options(): { token: string; lastEventId?: string; url: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinedValues(process.argv.slice(2)),
      options: {
        token: { type: 'string' },
        'last-event-id': { type: 'string' },
        url: { type: 'string', default: `ws://localhost:${process.env.PORT || 3000}/ws` },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return usage(`${(error as Error).message}\n`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.token) return usage('--token is required\n');
  const lastEventId = values['last-event-id'];
  if (lastEventId !== undefined && !/^[0-9]{1,15}$/.test(lastEventId)) return usage('--last-event-id must be a decimal event id\n');
  return { token: values.token, lastEventId, url: values.url! };
}

function usage(problem: string): never {
  console.error(`${problem}${USAGE}`);
  process.exit(2);
}

/** A typed line as the message it stands for, or undefined when it is not one. */
function messageOf(line: string): string | undefined {
  if (line.trim().startsWith('{')) return line.trim();
  const [command, callId, ...rest] = line.trim().split(/\s+/);
  if (command === 'ping' && !callId) return JSON.stringify({ type: 'ping' });
  if ((command === 'ready' || command === 'decline') && callId && !rest.length) return JSON.stringify({ type: command, callId });
  return undefined;
}

function main(): void {
  const { token, lastEventId, url } = options();
  const target = new URL(url);
  if (lastEventId !== undefined) target.searchParams.set('lastEventId', lastEventId);
  const socket = new WebSocket(target, { headers: { authorization: `Bearer ${token}` } });

  socket.on('unexpected-response', (_request, response) => {
    let body = '';
    response.on('data', (chunk: Buffer) => (body += chunk));
    response.on('end', () => {
      let message = body;
      try {
        message = JSON.parse(body).message ?? body;
      } catch {
        /* not the error body: print it as it is */
      }
      console.error(`refused: HTTP ${response.statusCode}: ${message}`);
      process.exit(1);
    });
  });
  socket.on('error', (error) => {
    console.error(`cannot connect to ${target.origin}${target.pathname}: ${error.message}`);
    process.exit(1);
  });
  socket.on('message', (data) => console.log(data.toString()));
  socket.on('close', (code, reason) => {
    const meaning = CLOSE_MEANINGS[code] ?? 'see the close codes in the README';
    console.error(`closed with code ${code} (${meaning})${reason.length ? `: ${reason}` : ''}`);
    process.exit(NORMAL_CLOSES.has(code) ? 0 : 1);
  });

  const pending: string[] = [];
  const send = (message: string) => (socket.readyState === WebSocket.OPEN ? socket.send(message) : pending.push(message));
  socket.on('open', () => pending.splice(0).forEach((message) => socket.send(message)));
  // stdin closing (end of a pipe, Ctrl-D) leaves the socket open: events keep arriving until it closes.
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (!line.trim()) return;
    const message = messageOf(line);
    if (message) send(message);
    else console.error(`not sent: type ping, ready <callId>, decline <callId>, or a JSON message`);
  });
  process.once('SIGINT', () => socket.close(1000));
}

main();
