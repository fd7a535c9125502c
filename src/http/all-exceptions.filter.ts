import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger, NotFoundException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../common/error-body';
import { StoreUnavailableError } from '../common/store-unavailable';
import { VoraError } from '../common/vora-error';
import { isIngress } from './route-config';

interface Failure {
  status: number;
  message: string;
  headers: Readonly<Record<string, string>>;
}

/**
 * The one place that turns a thrown value into the seed's error body. Known
 * failures keep their status and message; anything else becomes a 500 whose
 * details stay in the log under a correlation id.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let failure = describeFailure(exception, reply.request, this.logger);
    if (failure.status === 413 && isIngress(reply.request)) {
      failure = { ...failure, message: 'the request body is larger than this endpoint accepts (INGRESS_MAX_BODY_BYTES); send fewer events per request' };
    }
    sendFailure(reply, failure);
  }
}

function sendFailure(reply: FastifyReply, failure: Failure): void {
  void sendError(reply, failure.status, failure.message, failure.headers);
}

function describeFailure(exception: unknown, request: FastifyRequest, logger: Logger): Failure {
  if (exception instanceof VoraError) {
    return { status: exception.status, message: exception.message, headers: exception.headers };
  }
  if (exception instanceof StoreUnavailableError) {
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      message: 'the session store is unavailable; retry shortly',
      headers: { 'retry-after': '2' },
    };
  }
  if (exception instanceof NotFoundException && /^Cannot [A-Z]+ /.test(exception.message)) {
    // Nest's answer for an unknown route.
    return { status: 404, message: `no operation at ${exception.message.slice('Cannot '.length)}`, headers: {} };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return { status, message: FASTIFY_MESSAGES[status] ?? httpExceptionMessage(exception), headers: {} };
  }
  if (isClientHttpError(exception)) return describeStaticFileError(exception, request);

  const correlationId = randomUUID();
  logger.error(`unexpected failure ${correlationId} on request ${request.id}`, exception instanceof Error ? exception.stack : String(exception));
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    message: `the gateway failed unexpectedly; quote ${correlationId} when reporting this`,
    headers: {},
  };
}

/**
 * The `http-errors` convention: `expose` says the status and message are
 * meant for the client. @fastify/static (Swagger UI under /docs) raises its
 * refusals this way, as `send` does.
 */
interface ClientHttpError {
  readonly status: number;
  readonly expose: true;
  readonly headers?: Readonly<Record<string, string>>;
}

function isClientHttpError(exception: unknown): exception is ClientHttpError {
  const { status, expose } = (exception ?? {}) as Partial<ClientHttpError>;
  return expose === true && typeof status === 'number' && status >= 400 && status < 500;
}

/** A static file refused: a client error, told as one, never logged as a failure of the gateway. */
function describeStaticFileError(error: ClientHttpError, request: FastifyRequest): Failure {
  const target = `${request.method} ${request.url.split('?')[0]}`;
  switch (error.status) {
    case 400:
      return { status: 400, message: `the file path of ${target} is malformed (a NUL byte, or an encoding that is not UTF-8)`, headers: {} };
    case 403:
      // A path that climbs out of the served folder (an encoded ../) names nothing that is served.
      return { status: 404, message: `no operation at ${target}`, headers: {} };
    case 412:
      return { status: 412, message: 'the file does not meet the request\'s If-Match or If-Unmodified-Since precondition', headers: {} };
    case 416: {
      const contentRange = error.headers?.['Content-Range'];
      return {
        status: 416,
        message: `the requested Range lies outside the file${contentRange ? ` (Content-Range: ${contentRange})` : ''}`,
        headers: contentRange ? { 'content-range': contentRange } : {},
      };
    }
    default:
      return { status: error.status, message: `the file cannot be served: ${STATUS_CODES[error.status] ?? 'client error'}`, headers: {} };
  }
}

function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string') return message;
  return exception.message;
}

/**
 * Statuses only Fastify produces (Nest hands its errors over as HttpException
 * with Fastify's terse message); say what the client should change.
 */
const FASTIFY_MESSAGES: Readonly<Record<number, string>> = {
  413: 'the request body is larger than this endpoint accepts (16 KiB for client operations)',
  414: 'the request URL is too long',
  415: 'the request body must be application/json',
  431: 'the request headers are too large',
};
