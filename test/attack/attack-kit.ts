import { request as httpRequest, createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { expectError, http, HttpResult, RunningGateway } from '../support/gateway';
import { eventually } from '../support/eventually';

/** Shared tools of the attack suite: hand-built tokens, raw HTTP and raw WebSocket frames. */

export const REALM = 'Bearer realm="vora"';
export const ERROR_KEYS = ['error', 'message', 'status', 'timestamp'];

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
export const nowS = (): number => Math.floor(Date.now() / 1000);

/** RFC 6750 invalid_token: 401, the challenge with a description, and the seed's error body. */
export function expectInvalidToken(result: HttpResult, description?: string): void {
  expectError(result, 401, description === undefined ? /^the access token is invalid: / : `the access token is invalid: ${description}`);
  expect(result.body.error).toBe('Unauthorized');
  const challenge = result.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer realm="vora", error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*"$/);
}

/** RFC 6750 invalid_token for exactly this reason: the description in the message and, as it is, in the challenge. */
export function expectInvalidTokenExactly(result: HttpResult, description: string): void {
  expectError(result, 401);
  expect(result.body.error).toBe('Unauthorized');
  expect(result.body.message).toBe(`the access token is invalid: ${description}`);
  expect(result.headers.get('www-authenticate')).toBe(`${REALM}, error="invalid_token", error_description="${description}"`);
}

/** True when a parsed body is exactly the seed's ResponseStatusVoraError for that status. */
export function isErrorBody(body: unknown, status: number): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const record = body as Record<string, unknown>;
  return (
    Object.keys(record).sort().join() === ERROR_KEYS.join() &&
    record.status === String(status) &&
    typeof record.error === 'string' &&
    typeof record.message === 'string' &&
    typeof record.timestamp === 'string' &&
    new Date(record.timestamp).toISOString() === record.timestamp
  );
}

/**
 * An HTTP request whose path is sent exactly as given: `fetch` resolves `..`
 * segments and re-encodes characters, which would hide the attack.
 */
export function rawRequest(
  gateway: RunningGateway,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: Number(port), path, method: init.method ?? 'GET', headers: init.headers, agent: false },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = undefined;
          if (text) {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          resolve({ status: response.statusCode ?? 0, headers, body });
        });
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The gateway still answers its liveness probe. */
export async function expectLive(gateway: RunningGateway): Promise<void> {
  const result = await http(`${gateway.url}/health/liveness`);
  expect(result.status).toBe(204);
}

/** A server an attacker controls; it records every request it receives. */
export interface AttackerServer {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

export function startAttackerServer(body: unknown): Promise<AttackerServer> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    }),
  );
}

/** True once `condition` holds, false when `timeoutMs` passed first: `eventually`, for checks where not holding is an answer. */
export function within(timeoutMs: number, condition: () => boolean | Promise<boolean>, intervalMs = 20): Promise<boolean> {
  return eventually(condition, { timeoutMs, intervalMs }).then(
    () => true,
    () => false,
  );
}

// ---------------------------------------------------------------------------
// Raw WebSocket over TCP (RFC 6455), to send frames a well-behaved client never would.

export const Opcode = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

export interface FrameOptions {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Buffer;
  /** Client frames must be masked; false sends an unmasked one. */
  masked?: boolean;
}

export function encodeFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), masked = true }: FrameOptions): Buffer {
  const first = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xf);
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([first, (masked ? 0x80 : 0) | payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
  return Buffer.concat([header, mask, body]);
}

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client written on a bare TCP socket: it performs the upgrade by
 * hand and then writes whatever bytes the test wants, reading the server's
 * frames back (server frames are never masked).
 */
export class RawWsClient {
  readonly frames: ServerFrame[] = [];
  ended = false;
  private buffer = Buffer.alloc(0);
  private upgraded = false;
  private statusLine = '';
  private headerText = '';

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
  }

  /** Upgrades with the webSocketToken in the Authorization header; fails unless the server answers 101. */
  static async open(gateway: RunningGateway, token: string): Promise<RawWsClient> {
    const { port } = new URL(gateway.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawWsClient(socket);
    const key = randomBytes(16).toString('base64');
    socket.write(
      [
        'GET /ws HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
        `Authorization: Bearer ${token}`,
        '',
        '',
      ].join('\r\n'),
    );
    const upgraded = await within(5_000, () => client.upgraded || client.ended);
    if (!upgraded || !client.upgraded) throw new Error(`the upgrade failed: ${client.statusLine || 'no answer'}`);
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    if (!client.headerText.includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) throw new Error('bad Sec-WebSocket-Accept');
    return client;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(frame: FrameOptions): void {
    this.write(encodeFrame(frame));
  }

  /** The first text frame (the welcome), parsed. */
  textMessages(): unknown[] {
    return this.frames.filter((f) => f.opcode === Opcode.Text).map((f) => JSON.parse(f.payload.toString('utf8')));
  }

  /** The status code of the server's close frame, if it sent one. */
  closeCode(): number | undefined {
    const close = this.frames.find((f) => f.opcode === Opcode.Close);
    if (!close) return undefined;
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }

  /** Waits until the server ended the TCP connection; false after `timeoutMs`. */
  waitEnded(timeoutMs = 5_000): Promise<boolean> {
    return within(timeoutMs, () => this.ended);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.headerText = this.buffer.subarray(0, end).toString('latin1').toLowerCase();
      this.statusLine = this.headerText.split('\r\n')[0];
      this.buffer = this.buffer.subarray(end + 4);
      if (!/^http\/1\.1 101 /.test(this.statusLine)) {
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
    }
    this.parseFrames();
  }

  private parseFrames(): void {
    for (;;) {
      if (this.buffer.length < 2) return;
      const fin = (this.buffer[0] & 0x80) !== 0;
      const opcode = this.buffer[0] & 0x0f;
      let length = this.buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      this.frames.push({ fin, opcode, payload });
      this.buffer = this.buffer.subarray(offset + length);
      // Answer a close like a conforming client, so that the server can end the connection at once.
      if (opcode === Opcode.Close) this.send({ opcode: Opcode.Close, payload: payload.subarray(0, 2) });
    }
  }
}

// ---------------------------------------------------------------------------
// Raw HTTP over TCP, for requests no HTTP client library would send.

export interface RawExchange {
  /** Every byte the server sent. */
  text: string;
  /** The status codes of every response in `text`, in order. */
  statuses: number[];
  /** True when the server closed the connection (false when the wait ran out). */
  closed: boolean;
  /** The body of the first response, parsed as JSON when it is JSON. */
  body: unknown;
  /** The header block of the first response, lower-cased. */
  head: string;
}

/** Writes `bytes` on a fresh TCP connection and collects the answer until the server closes it (or `timeoutMs`). */
export function rawExchange(gateway: RunningGateway, bytes: string | Buffer, timeoutMs = 3_000): Promise<RawExchange> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text.toLowerCase() : text.slice(0, split).toLowerCase();
      let body: unknown = split < 0 ? undefined : text.slice(split + 4);
      try {
        body = JSON.parse(body as string);
      } catch {
        /* keep the text */
      }
      resolve({ text, statuses, closed, body, head });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}
