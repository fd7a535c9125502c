import { ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { validationMessage } from './validation';
import { VoraError } from './vora-error';

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
    }
    return super.transform(value, metadata);
  }
}
