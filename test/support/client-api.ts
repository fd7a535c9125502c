import { SessionStore } from '../../src/session/session.store';
import { SubscriptionStore } from '../../src/session/subscription.store';
import { expectError, http, HttpResult, RunningGateway } from './gateway';
import { TestIssuer } from './test-issuer';

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

/** Every test starts without sessions or subscriptions, so that tests do not see each other's. */
export function forgetSessionsAfterEach(gateway: RunningGateway): void {
  afterEach(async () => {
    const store = gateway.app.get(SessionStore);
    const subscriptions = gateway.app.get(SubscriptionStore);
    for (const sub of ['alice', 'bob', 'carol', 'oscar', 'erin']) {
      for (const session of await store.listByUser(sub)) {
        await store.remove(session.id);
        await subscriptions.delete(session.sub, session.identity);
      }
    }
  });
}

/** A 403 for a token without one of `scopes`, with its challenge. */
export function expectInsufficientScope(result: HttpResult, scopes: string): void {
  expectError(result, 403, `the access token has insufficient scope: one of ${scopes} is required`);
  expect(result.headers.get('www-authenticate')).toBe(`Bearer realm="vora", error="insufficient_scope", scope="${scopes}"`);
}
