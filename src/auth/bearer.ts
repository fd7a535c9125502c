/**
 * What an Authorization header says about a bearer token (RFC 6750 section
 * 2.1): the REST guard (access tokens) and the WebSocket handshake
 * (webSocketTokens) read it with these same rules.
 */
export type BearerHeader =
  | { readonly kind: 'absent' }
  /** Another scheme (Basic, ...): no bearer token, which RFC 6750 section 3.1 answers like no token at all. */
  | { readonly kind: 'other-scheme' }
  /** `Bearer` without exactly one token after it. */
  | { readonly kind: 'malformed' }
  | { readonly kind: 'token'; readonly token: string };

export function parseBearerHeader(header: string | undefined): BearerHeader {
  if (header === undefined) return { kind: 'absent' };
  if (!/^Bearer(\s|$)/i.test(header)) return { kind: 'other-scheme' };
  const token = header.match(/^Bearer[ ]+([^ ]+)[ ]*$/i)?.[1];
  return token ? { kind: 'token', token } : { kind: 'malformed' };
}
