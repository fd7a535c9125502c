import type { FastifyInstance } from 'fastify';
import { parse } from 'secure-json-parse';
import { VoraError } from './vora-error';

/**
 * The only body parser: JSON, with `__proto__` and `constructor` keys refused
 * (prototype poisoning), and a message that says which of the two went wrong.
 * Any other content type is answered 415 by Fastify.
 */
export function registerJsonBody(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(VoraError.badRequest('the request declares a JSON body but sends none'), undefined);
    try {
      done(null, parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      const poisoned = /prototype/i.test((error as Error).message);
      done(
        VoraError.badRequest(
          poisoned ? 'the request body contains a forbidden key (__proto__ or constructor)' : 'the request body is not valid JSON',
        ),
        undefined,
      );
    }
  });
}
