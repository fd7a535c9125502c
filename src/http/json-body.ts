import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { parse } from 'secure-json-parse';
import { VoraError } from '../common/vora-error';
import { holdsLoneSurrogate } from '../common/well-formed';

/** A `\uXXXX` escape of a surrogate: only text holding one can parse to a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * The only body parser: JSON, with `__proto__` and `constructor` keys refused
 * (prototype poisoning), every string well-formed Unicode (UTF-8 bytes, no
 * lone surrogate escaped as `\ud800`), and a message that says which of
 * these went wrong. Any other content type is answered 415 by Fastify.
 */
export function registerJsonBody(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) return done(VoraError.badRequest('the request body is not valid UTF-8'), undefined);
    const text = bytes.toString('utf8');
    if (text.trim() === '') return done(VoraError.badRequest('the request declares a JSON body but sends none'), undefined);
    let parsed: unknown;
    try {
      parsed = parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      const poisoned = /prototype/i.test((error as Error).message);
      return done(
        VoraError.badRequest(
          poisoned ? 'the request body contains a forbidden key (__proto__ or constructor)' : 'the request body is not valid JSON',
        ),
        undefined,
      );
    }
    if (SURROGATE_ESCAPE.test(text) && holdsLoneSurrogate(parsed)) {
      return done(VoraError.badRequest('the request body holds a string that is not well-formed Unicode (a lone surrogate such as \\ud800)'), undefined);
    }
    done(null, parsed);
  });
}
