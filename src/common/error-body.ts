import { STATUS_CODES } from 'node:http';
import { ApiProperty } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

/** The seed's error body, returned by every route on every error. */
export class ResponseStatusVoraError {
  @ApiProperty({ example: '2026-11-28T10:15:30.120Z' })
  timestamp: string;
  @ApiProperty({ example: '403', description: 'HTTP status code as a decimal string' })
  status: string;
  @ApiProperty({ example: 'Forbidden', description: 'reason phrase of the status code' })
  error: string;
  @ApiProperty({ example: 'identity +905321110009 is not assigned to this account' })
  message: string;
}

export function errorBody(status: number, message: string): ResponseStatusVoraError {
  return {
    timestamp: new Date().toISOString(),
    status: String(status),
    error: STATUS_CODES[status] ?? 'Error',
    message,
  };
}

/** An error answer as any transport writes it: a Fastify reply, a raw socket, a refused WebSocket upgrade. */
export interface ErrorAnswer {
  readonly status: number;
  /** The caller's headers and the body's type. `Content-Type` is spelled as `ws` spells it, so that it replaces the library's default. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The one writer of the error body: every path that answers an error
 * (the exception filter, the body parser, CORS, the router, hooks that
 * refuse a request, refused connections and upgrades) goes through it, so
 * the shape and the content type cannot differ between them.
 */
export function errorAnswer(status: number, message: string, headers: Readonly<Record<string, string>> = {}): ErrorAnswer {
  return {
    status,
    headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify(errorBody(status, message)),
  };
}

/** The error answer on a Fastify reply. */
export function sendError(reply: FastifyReply, status: number, message: string, headers?: Readonly<Record<string, string>>): FastifyReply {
  const answer = errorAnswer(status, message, headers);
  return reply.status(status).headers(answer.headers).send(answer.body);
}
