import { ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { validationMessage } from '../common/validation';
import { VoraError } from '../common/vora-error';

/** Client bodies are flat (an object of strings, booleans and lists of strings); deeper input only feeds recursive walkers. */
const MAX_DEPTH = 16;
/** Keys the parent pipe deletes silently (prototype hygiene) before its whitelist could name them. */
const SILENTLY_STRIPPED = ['constructor', 'prototype'];

/**
 * Validation at the edge: unknown fields are refused, not stripped, and a
 * body that is not a JSON object is refused before class-validator sees it.
 */
@Injectable()
export class BodyPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => VoraError.badRequest(`invalid request body: ${validationMessage(errors).join('; ')}`),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Only DTO classes describe an object; `unknown` bodies are parsed by their service.
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object && metadata.metatype !== Array) {
      if (value === undefined || value === null) throw VoraError.badRequest('a JSON object body is required');
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw VoraError.badRequest('the request body must be a JSON object');
      }
      // The parent pipe and class-transformer recurse without a bound: thousands of nested arrays overflow the stack.
      if (deeperThan(value, MAX_DEPTH)) throw VoraError.badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
      const stripped = SILENTLY_STRIPPED.filter((key) => Object.prototype.hasOwnProperty.call(value, key));
      if (stripped.length) {
        throw VoraError.badRequest(`invalid request body: ${stripped.map((key) => `unknown field "${key}"`).join('; ')}`);
      }
    }
    return super.transform(value, metadata);
  }
}

/** Walks without recursion, so that the check itself cannot overflow the stack. */
function deeperThan(root: object, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
