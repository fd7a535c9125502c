import { HttpStatus } from '@nestjs/common';

/**
 * A failure the client can act on. The message is written for a client
 * developer; `headers` carries protocol headers such as WWW-Authenticate.
 */
export class VoraError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'VoraError';
  }

  static badRequest(message: string): VoraError {
    return new VoraError(HttpStatus.BAD_REQUEST, message);
  }
  static forbidden(message: string): VoraError {
    return new VoraError(HttpStatus.FORBIDDEN, message);
  }
  static notFound(message: string): VoraError {
    return new VoraError(HttpStatus.NOT_FOUND, message);
  }
  static conflict(message: string): VoraError {
    return new VoraError(HttpStatus.CONFLICT, message);
  }
  static unavailable(message: string): VoraError {
    return new VoraError(HttpStatus.SERVICE_UNAVAILABLE, message);
  }
}
