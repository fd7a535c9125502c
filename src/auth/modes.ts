/** Client modes of SPEC section 1, in the order that decides between several scopes. */
export const CLIENT_MODES = ['admin', 'manager', 'user', 'ott'] as const;
export type ClientMode = (typeof CLIENT_MODES)[number];

/** What a route may require: a client mode, or the platform's publishing right. */
export type Access = ClientMode | 'platform';

export const MODE_SCOPE: Readonly<Record<Access, string>> = {
  admin: 'vora:admin',
  manager: 'vora:manager',
  user: 'vora:user',
  ott: 'vora:ott',
  platform: 'vora:events:publish',
};

/** The first of admin, manager, user, ott that the scopes grant, if any. */
export function resolveMode(scopes: ReadonlySet<string>): ClientMode | undefined {
  return CLIENT_MODES.find((mode) => scopes.has(MODE_SCOPE[mode]));
}

/** Scopes come from `scope` (space separated) or `scp` (array or string). */
export function scopesOf(claims: Readonly<Record<string, unknown>>): Set<string> {
  const scopes = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string') value.split(' ').filter(Boolean).forEach((s) => scopes.add(s));
    else if (Array.isArray(value)) value.forEach(add);
  };
  add(claims.scope);
  add(claims.scp);
  return scopes;
}
