/** Query parameters that carry secrets: the webSocketToken and an RFC 6750 access token. */
const SECRET_QUERY = /([?&](?:token|access_token)=)[^&#]*/gi;

/** The URL as it may be logged: secret query values replaced. */
export const redactUrl = (url: string | undefined): string | undefined => url?.replace(SECRET_QUERY, '$1[REDACTED]');
