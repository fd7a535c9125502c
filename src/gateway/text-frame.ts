import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * Writes `text` to the socket as one unmasked, final text frame (RFC 6455
 * section 5.2), header and payload in one buffer and one write.
 *
 * `ws.send` writes a frame as two chunks (header, then the string) under a
 * cork: Node then takes its writev path, which copies the string into a
 * buffer of its own on every call and costs a write request and a chunk list
 * more. Events are written per event and recipient, the gateway's hottest
 * path. Ordering with frames `ws` writes itself (welcome, pings,
 * close) holds because with permessage-deflate off `ws` writes every frame
 * synchronously to the same socket; `bufferedAmount` still counts these bytes.
 */
export function writeTextFrame(ws: WebSocket, text: string): void {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, text
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  frame.write(text, header, length, 'utf8');
  socketOf(ws).write(frame);
}

/**
 * Resolves once the socket handed everything it held to the kernel (its
 * 'drain'), or closed. Node reports a drain only after the unsent bytes
 * crossed the socket's own high-water mark, so below it nothing is awaited:
 * pace writes in windows of at least `highWaterMark(ws)`.
 */
export function drained(ws: WebSocket): Promise<void> {
  const socket = socketOf(ws);
  if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** The unsent bytes past which the socket reports its drain (16 KiB on Node 20). */
export function highWaterMark(ws: WebSocket): number {
  return socketOf(ws).writableHighWaterMark;
}

/** The TCP socket under a `ws` WebSocket (set when it opened; `ws` has no public accessor). */
function socketOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}
