import type { IncomingHttpHeaders } from 'node:http';

/** Request headers that carry secrets: the access token, cookies, and a token sent as a WebSocket subprotocol. */
const SECRET_HEADERS = ['authorization', 'cookie', 'sec-websocket-protocol'] as const;

/**
 * The headers as they may be logged: the values of secret headers replaced,
 * in a copy only when there is one to replace. Done here rather than by
 * pino's path redaction, which copies the whole line's object on every call
 * (a third of what an access line costs).
 */
export function redactHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  let copy: IncomingHttpHeaders | undefined;
  for (const name of SECRET_HEADERS) {
    if (headers[name] === undefined) continue;
    copy ??= { ...headers };
    copy[name] = '[REDACTED]';
  }
  return copy ?? headers;
}

/** Query parameters that carry secrets: the webSocketToken and an RFC 6750 access token. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['token', 'access_token']);

/**
 * The URL as it may be logged: the values of secret query parameters
 * replaced. Keys are compared as the gateway reads them, decoded, so that
 * `?access%5Ftoken=` and `?%74oken=` are caught like `?access_token=` and
 * `?token=`; the rest of the URL stays as it was sent.
 */
export const redactUrl = (url: string | undefined): string | undefined => {
  const start = url?.indexOf('?') ?? -1;
  if (url === undefined || start < 0) return url;
  const parameters = url
    .slice(start + 1)
    .split('&')
    .map((parameter) => {
      const equals = parameter.indexOf('=');
      if (equals < 0) return parameter;
      const key = parameter.slice(0, equals);
      return SECRET_KEYS.has(decodedKey(key).toLowerCase()) ? `${key}=[REDACTED]` : parameter;
    });
  return `${url.slice(0, start + 1)}${parameters.join('&')}`;
};

function decodedKey(key: string): string {
  if (!key.includes('%') && !key.includes('+')) return key;
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}
