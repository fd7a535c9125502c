import { ORIGIN } from './fixtures';
import { expectError, forgetSessionsAfterEach, http, HttpResult, RunningGateway, TestIssuer, useGateway } from './harness';

/**
 * The client REST operations as a caller sends them, each with a fresh token
 * of `sub` and `scope` (alice with vora:user unless told), for the suites of
 * the client REST API.
 */
export function clientApi(issuer: TestIssuer, gateway: RunningGateway) {
  const token = (sub: string, scope = 'vora:user', claims: Record<string, unknown> = {}) => issuer.sign({ sub, scope, claims });
  const get = async (path: string, sub = 'alice', scope = 'vora:user') => http(`${gateway.url}${path}`, { token: await token(sub, scope) });
  const post = async (path: string, body: unknown, sub = 'alice', scope = 'vora:user') =>
    http(`${gateway.url}${path}`, { method: 'POST', token: await token(sub, scope), body });
  const setup = (identity: string, connectionType = 'WEB', sub = 'alice', scope = 'vora:user', extra: object = {}) =>
    post('/identity/setup', { connectionType, identity, ...extra }, sub, scope);
  const subscribe = (identity: string, body: unknown, sub = 'alice', scope = 'vora:user') =>
    post(`/identity/${identity}/eventSubscription`, body, sub, scope);
  const logout = (identity: string, sub = 'alice', scope = 'vora:user') => post(`/logout/${identity}`, undefined, sub, scope);
  return { token, get, post, setup, subscribe, logout };
}

/**
 * The gateway of the client REST API suites (CORS_ORIGINS=ORIGIN) and its
 * calls, with no sessions left over between tests.
 */
export function useClientApi() {
  const { issuer, gateway } = useGateway({ CORS_ORIGINS: ORIGIN });
  forgetSessionsAfterEach(gateway);
  return { issuer, gateway, ...clientApi(issuer, gateway) };
}

/** A 403 for a token without one of `scopes`, with its challenge. */
export function expectInsufficientScope(result: HttpResult, scopes: string): void {
  expectError(result, 403, `the access token has insufficient scope: one of ${scopes} is required`);
  expect(result.headers.get('www-authenticate')).toBe(`Bearer realm="vora", error="insufficient_scope", scope="${scopes}"`);
}
