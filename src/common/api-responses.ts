import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ResponseStatusVoraError } from './error-body';

/** The seed's error responses, listed on every client operation in the same order. */
const SEED_ERRORS: ReadonlyArray<[number, string]> = [
  [400, 'Bad Request'],
  [401, 'The access token is expired, revoked, malformed, or invalid for other reasons'],
  [403, 'The access token has insufficient scope'],
  [404, 'Not found'],
  [409, 'Conflict'],
  [500, 'Internal Server Error'],
];

export const ApiSeedErrors = (): MethodDecorator =>
  applyDecorators(
    ...SEED_ERRORS.map(([status, description]) => ApiResponse({ status, description, type: ResponseStatusVoraError })),
  );
