import { STATUS_CODES } from 'node:http';
import { applyDecorators } from '@nestjs/common';
import { ApiResponse, HeadersObject } from '@nestjs/swagger';
import { ResponseStatusVoraError } from './error-body';

/**
 * Example values of the OpenAPI document. They name the sample user alice of
 * config/directory.json, so that Swagger UI's "Try it out" succeeds as given
 * with a token from `npm run token -- --sub alice --scope vora:user`.
 */
export const EXAMPLE_IDENTITY = '+905321110001';
const EXAMPLE_TIMESTAMP = '2026-11-28T10:15:30.120Z';

/** A `ResponseStatusVoraError` exactly as the gateway writes it for that status. */
export function errorExample(status: number, message: string): ResponseStatusVoraError {
  return { timestamp: EXAMPLE_TIMESTAMP, status: String(status), error: STATUS_CODES[status] ?? 'Error', message };
}

const WWW_AUTHENTICATE: HeadersObject = {
  'WWW-Authenticate': {
    description: 'RFC 6750 challenge: `Bearer realm="vora"`, with `error="invalid_token"` when a token was sent but refused',
    schema: { type: 'string', example: 'Bearer realm="vora"' },
  },
};

const RETRY_AFTER: HeadersObject = {
  'Retry-After': {
    description: 'Whole seconds to wait before trying again',
    schema: { type: 'integer', minimum: 1, example: 42 },
  },
};

/** One error response: the seed's error body with one realistic example of its own. */
export const ApiErrorResponse = (
  status: number,
  description: string,
  example: { summary: string; message: string },
  headers?: HeadersObject,
): MethodDecorator & ClassDecorator =>
  ApiResponse({
    status,
    description,
    type: ResponseStatusVoraError,
    headers,
    examples: { [exampleName(status)]: { summary: example.summary, value: errorExample(status, example.message) } },
  });

/** `tooManyRequests` for 429: the reason phrase in camel case. */
const exampleName = (status: number): string =>
  (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z]+(\w)/g, (_, next: string) => next.toUpperCase());

/** What a client operation answers for the seed's 400, 403, 404 and 409, in the gateway's own words. */
export interface SeedErrorExamples {
  readonly 400: { summary: string; message: string };
  readonly 403: { summary: string; message: string };
  readonly 404: { summary: string; message: string };
  /** Absent for the operations that never answer 409 (the seed lists it on all of them). */
  readonly 409?: { summary: string; message: string };
}

const NOT_ANSWERED_409 = {
  summary: 'Not answered by this operation (the VORA Rest API lists 409 on every client operation)',
  message: 'the request conflicts with the current state of the session',
};

/**
 * The seed's error responses, listed on every client operation in the same
 * order and with the seed's descriptions, each with an example body of its
 * own status.
 */
export const ApiSeedErrors = (examples: SeedErrorExamples): MethodDecorator =>
  applyDecorators(
    ApiErrorResponse(400, 'Bad Request', examples[400]),
    ApiErrorResponse(
      401,
      'The access token is expired, revoked, malformed, or invalid for other reasons',
      { summary: 'No access token sent', message: 'an access token is required: send Authorization: Bearer <token>' },
      WWW_AUTHENTICATE,
    ),
    ApiErrorResponse(403, 'The access token has insufficient scope', examples[403]),
    ApiErrorResponse(404, 'Not found', examples[404]),
    ApiErrorResponse(409, 'Conflict', examples[409] ?? NOT_ANSWERED_409),
    ApiErrorResponse(500, 'Internal Server Error', {
      summary: 'An unexpected failure; its details are logged under the quoted id',
      message: 'the gateway failed unexpectedly; quote 0b7e4d8e-5d3c-4f0e-9a57-2f1c7d3e9b21 when reporting this',
    }),
  );

/** 429 of the per-caller rate limits (RATE_LIMIT_PER_MINUTE, INGRESS_RATE_LIMIT_PER_MINUTE, socket caps). */
export const ApiRateLimited = (description: string, message: string): MethodDecorator & ClassDecorator =>
  ApiErrorResponse(429, description, { summary: 'Over the limit: wait Retry-After seconds', message }, RETRY_AFTER);

export const ApiClientRateLimited = (): MethodDecorator & ClassDecorator =>
  ApiRateLimited(
    'Too Many Requests: over RATE_LIMIT_PER_MINUTE requests for this caller; retry after Retry-After seconds',
    'rate limit exceeded: at most 600 requests per minute per caller; retry in 42 s',
  );
