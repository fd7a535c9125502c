import { MODE_SCOPE, resolveMode, scopesOf } from './modes';

describe('resolveMode', () => {
  const mode = (...scopes: string[]) => resolveMode(new Set(scopes));

  it.each([
    ['vora:user', 'user'],
    ['vora:manager', 'manager'],
    ['vora:ott', 'ott'],
    ['vora:admin', 'admin'],
  ])('maps %s to %s', (scope, expected) => {
    expect(mode(scope)).toBe(expected);
  });

  it('takes the first of admin, manager, user, ott whatever the order of the scopes', () => {
    expect(mode('vora:ott', 'vora:user', 'vora:manager', 'vora:admin')).toBe('admin');
    expect(mode('vora:ott', 'vora:user', 'vora:manager')).toBe('manager');
    expect(mode('vora:user', 'vora:manager')).toBe('manager');
    expect(mode('vora:ott', 'vora:user')).toBe('user');
    expect(mode('vora:admin', 'vora:ott')).toBe('admin');
  });

  it('grants no mode without a mode scope', () => {
    expect(mode()).toBeUndefined();
    expect(mode('openid', 'profile')).toBeUndefined();
    expect(mode(MODE_SCOPE.platform)).toBeUndefined();
    expect(mode('VORA:USER', 'vora:user2', 'vora')).toBeUndefined();
  });
});

describe('scopesOf', () => {
  it('splits a space separated scope claim', () => {
    expect(scopesOf({ scope: 'openid vora:user  profile' })).toEqual(new Set(['openid', 'vora:user', 'profile']));
  });

  it('reads an scp array', () => {
    expect(scopesOf({ scp: ['vora:ott', 'openid'] })).toEqual(new Set(['vora:ott', 'openid']));
  });

  it('reads an scp string', () => {
    expect(scopesOf({ scp: 'vora:manager openid' })).toEqual(new Set(['vora:manager', 'openid']));
  });

  it('joins scope and scp', () => {
    expect(scopesOf({ scope: 'vora:user', scp: ['vora:admin'] })).toEqual(new Set(['vora:user', 'vora:admin']));
  });

  it('ignores missing and non-string values', () => {
    expect(scopesOf({})).toEqual(new Set());
    expect(scopesOf({ scope: 42, scp: [null, 7, { a: 1 }, 'vora:user'] })).toEqual(new Set(['vora:user']));
    expect(scopesOf({ scope: '' })).toEqual(new Set());
  });
});
