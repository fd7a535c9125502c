/**
 * Request strings must be well-formed Unicode (SPEC section 2): a lone
 * surrogate cannot be written as UTF-8, so a string holding one breaks
 * whatever encodes it later (Redis keys, Lua's JSON, log lines). The body
 * parser (json-body.ts) checks bodies, the router path parameters, and the
 * edge's request hook (http/edge.ts) the query.
 */

export const MALFORMED_QUERY = 'the query string is not valid percent-encoded UTF-8';

/** A lone surrogate: with the `u` flag a well-formed pair is one code point, not a surrogate. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether any string in a parsed JSON value, key or value, at any depth, holds a lone surrogate. */
export function holdsLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(holdsLoneSurrogate);
  for (const [key, item] of Object.entries(value)) if (LONE_SURROGATE.test(key) || holdsLoneSurrogate(item)) return true;
  return false;
}

/**
 * Whether the URL's query holds a percent-encoding that is not UTF-8 (such
 * as `%ED%A0%80`, a surrogate, or `%FF`) or a stray `%`. Fastify's query
 * parser keeps such values as they were sent, and URLSearchParams turns them
 * into U+FFFD: either way the client would not be told.
 */
export function malformedQuery(url: string | undefined): boolean {
  if (url === undefined) return false;
  const start = url.indexOf('?');
  if (start < 0 || url.indexOf('%', start) < 0) return false;
  try {
    decodeURIComponent(url.slice(start + 1));
    return false;
  } catch {
    return true;
  }
}
