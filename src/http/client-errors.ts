import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { errorAnswer } from '../common/error-body';

/** Writes the seed error body on a raw connection (no Fastify reply exists yet) and closes it. */
export function refuseConnection(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (socket.writable) {
    const { body, headers: all } = errorAnswer(status, message, headers);
    const { 'Content-Type': type, ...extra } = all;
    const lines = Object.entries(extra)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${type}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${lines}Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const BY_CODE: Readonly<Record<string, [number, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request took too long to arrive'],
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
};

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (a timeout,
 * oversized headers, a malformed or smuggled request).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // The request was answered already (see hasUnframedBody): a second answer would be read as the next one's.
  if ((socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, message] = BY_CODE[error.code ?? ''] ?? [400, UNPARSABLE_REQUEST];
  refuseConnection(socket, status, message);
}

/** RFC 9112 section 6.1: a request's Transfer-Encoding must end in chunked, or its body has no trustworthy end. */
const CHUNKED_LAST = /(?:^|,)[ \t]*chunked[ \t]*$/i;

/**
 * Whether a request's Transfer-Encoding does not end in chunked: the edge
 * refuses it (400, then closes) before it is routed. Node's parser fails such
 * a request only when its body arrives, which may be after the route has
 * answered: the answer would then depend on timing, and bytes smuggled
 * behind the body would meet a connection still open.
 */
export function hasUnframedBody(headers: IncomingHttpHeaders): boolean {
  const encoding = headers['transfer-encoding'];
  return encoding !== undefined && !CHUNKED_LAST.test(encoding);
}

export const UNPARSABLE_REQUEST = 'the request could not be parsed as HTTP/1.1';
