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
