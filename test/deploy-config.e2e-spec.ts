/**
 * The compose stack (docker-compose.yml, deploy/) cannot run on the build
 * machines, so this suite checks that its parts agree with each other and with
 * the gateway: the Keycloak realm, the directory the gateways load, the
 * environment they get, and the proxy in front of them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { BlockList } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { ClientAddresses } from '../src/http/client-address';
import { loadConfig } from '../src/config/load-config';
import { parseDirectory } from '../src/identity/json-directory';

const ROOT = join(__dirname, '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const readJson = (file: string): any => JSON.parse(read(file));

const MODE_SCOPES = ['vora:user', 'vora:manager', 'vora:ott', 'vora:admin'];
const PUBLISH_SCOPE = 'vora:events:publish';
const ALL_SCOPES = [...MODE_SCOPES, PUBLISH_SCOPE];
const GATEWAYS = ['gateway-1', 'gateway-2'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Mount {
  source: string;
  target: string;
}

const compose = parseYaml(read('docker-compose.yml'), { merge: true });
const realm = readJson('deploy/keycloak/vora-realm.json');
const sampleDirectory = readJson('config/directory.json');
const keycloakDirectory = readJson('deploy/directory.keycloak.json');
const nginx = read('deploy/nginx/nginx.conf');

const service = (name: string): any => {
  const found = compose.services?.[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
};

/** Compose allows `environment` as a map or as a list of NAME=value. */
const environmentOf = (name: string): Record<string, string> => {
  const env = service(name).environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((item: string) => {
        const at = item.indexOf('=');
        return at < 0 ? [item, ''] : [item.slice(0, at), item.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]));
};

/** Short-syntax (`./a:/b:ro`) and long-syntax bind mounts. */
const mountsOf = (name: string): Mount[] =>
  (service(name).volumes ?? []).map((volume: string | { source: string; target: string }) => {
    if (typeof volume !== 'string') return { source: volume.source, target: volume.target };
    const [source, target] = volume.split(':');
    return { source, target };
  });

const normalise = (source: string): string => posix.normalize(source.replace(/^\.\//, ''));

/** The environment variables the gateway's configuration reads, from its source text. */
function variablesTheGatewayReads(): Set<string> {
  const names = new Set<string>();
  const dir = join(ROOT, 'src/config');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    const patterns = [
      /\benv\.([A-Z][A-Z0-9_]*)\b/g, // env.NODE_ENV
      /\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g, // env['NAME']
      /\w\(\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g, // int('PORT', ...), url('REDIS_URL'), list('CORS_ORIGINS')
    ];
    for (const pattern of patterns) for (const match of text.matchAll(pattern)) names.add(match[1]);
  }
  return names;
}

/** The body of the first `<header> { ... }` block of an nginx configuration. */
function nginxBlock(text: string, header: RegExp): string {
  const match = header.exec(text);
  if (!match) throw new Error(`nginx.conf has no block matching ${header}`);
  let depth = 0;
  const start = text.indexOf('{', match.index);
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return text.slice(start + 1, i);
  }
  throw new Error(`unbalanced braces after ${header}`);
}

const withoutComments = (text: string): string => text.replace(/#[^\n]*/g, '');

const scopeByName = (name: string): any => realm.clientScopes?.find((s: any) => s.name === name);
const client = (clientId: string): any => {
  const found = realm.clients?.find((c: any) => c.clientId === clientId);
  if (!found) throw new Error(`the realm has no client "${clientId}"`);
  return found;
};

/** Every custom audience an access token of this client gets, from its own mappers and its default scopes. */
function accessTokenAudiences(clientId: string): string[] {
  const c = client(clientId);
  const mappers = [
    ...(c.protocolMappers ?? []),
    ...(c.defaultClientScopes ?? []).flatMap((name: string) => scopeByName(name)?.protocolMappers ?? []),
  ];
  return mappers
    .filter((m: any) => m.protocolMapper === 'oidc-audience-mapper' && m.config?.['access.token.claim'] === 'true')
    .map((m: any) => m.config['included.custom.audience'])
    .filter(Boolean);
}

function hasSubMapper(clientId: string): boolean {
  const c = client(clientId);
  return [
    ...(c.protocolMappers ?? []),
    ...(c.defaultClientScopes ?? []).flatMap((name: string) => scopeByName(name)?.protocolMappers ?? []),
  ].some((m: any) => m.protocolMapper === 'oidc-sub-mapper' && m.config?.['access.token.claim'] === 'true');
}

describe('deploy configuration', () => {
  describe('Keycloak realm', () => {
    it('is the realm "vora" and is imported by the keycloak service', () => {
      expect(realm.realm).toBe('vora');
      expect(realm.enabled).toBe(true);
      const keycloak = service('keycloak');
      expect(String(keycloak.image)).toMatch(/^quay\.io\/keycloak\/keycloak:26(\.|$)/);
      const command = Array.isArray(keycloak.command) ? keycloak.command.join(' ') : String(keycloak.command);
      expect(command).toMatch(/\bstart-dev\b/);
      expect(command).toContain('--import-realm');
      expect(mountsOf('keycloak')).toContainEqual(
        expect.objectContaining({ target: expect.stringMatching(/^\/opt\/keycloak\/data\/import\/[^/]+\.json$/) }),
      );
      const mount = mountsOf('keycloak').find((m) => m.target.startsWith('/opt/keycloak/data/import/'))!;
      expect(normalise(mount.source)).toBe('deploy/keycloak/vora-realm.json');
      expect(service('keycloak').healthcheck).toBeDefined();
    });

    it.each(ALL_SCOPES)('defines the client scope %s, listed in the token scope', (name) => {
      const scope = scopeByName(name);
      expect(scope).toBeDefined();
      expect(scope.protocol).toBe('openid-connect');
      expect(scope.attributes?.['include.in.token.scope']).toBe('true');
    });

    it('keeps a subject mapper (a realm file with clientScopes gets no built-in "basic" scope)', () => {
      expect(hasSubMapper('vora-web')).toBe(true);
      expect(hasSubMapper('vora-telephony-core')).toBe(true);
    });

    it('gives access tokens of both clients the audience the gateways expect', () => {
      const audiences = new Set(GATEWAYS.map((g) => environmentOf(g).AUTH_AUDIENCE));
      expect([...audiences]).toEqual(['vora-gateway']);
      expect(accessTokenAudiences('vora-web')).toContain('vora-gateway');
      expect(accessTokenAudiences('vora-telephony-core')).toContain('vora-gateway');
    });

    it('has a public web client with PKCE and the four mode scopes as optional scopes', () => {
      const web = client('vora-web');
      expect(web.enabled).toBe(true);
      expect(web.publicClient).toBe(true);
      expect(web.standardFlowEnabled).toBe(true);
      expect(web.directAccessGrantsEnabled).toBe(true);
      expect(web.implicitFlowEnabled).not.toBe(true);
      expect(web.attributes?.['pkce.code.challenge.method']).toBe('S256');
      expect(web.redirectUris).toContain('http://localhost:*');
      expect([...web.optionalClientScopes].sort()).toEqual([...MODE_SCOPES].sort());
      expect(web.defaultClientScopes).not.toContain(PUBLISH_SCOPE);
      for (const scope of MODE_SCOPES) expect(web.defaultClientScopes).not.toContain(scope);
    });

    it('has a confidential telephony-core client that always gets vora:events:publish', () => {
      const core = client('vora-telephony-core');
      expect(core.enabled).toBe(true);
      expect(core.publicClient).toBe(false);
      expect(core.serviceAccountsEnabled).toBe(true);
      expect(core.clientAuthenticatorType ?? 'client-secret').toBe('client-secret');
      expect(typeof core.secret).toBe('string');
      expect(core.secret.length).toBeGreaterThan(0);
      expect(core.defaultClientScopes).toContain(PUBLISH_SCOPE);
      expect(core.standardFlowEnabled).toBe(false);
      expect(core.directAccessGrantsEnabled).not.toBe(true);
      for (const scope of MODE_SCOPES) {
        expect(core.defaultClientScopes).not.toContain(scope);
        expect(core.optionalClientScopes ?? []).not.toContain(scope);
      }
    });

    it('only references client scopes it defines', () => {
      const defined = new Set(realm.clientScopes.map((s: any) => s.name));
      const referenced = [
        ...(realm.defaultDefaultClientScopes ?? []),
        ...(realm.defaultOptionalClientScopes ?? []),
        ...realm.clients.flatMap((c: any) => [...(c.defaultClientScopes ?? []), ...(c.optionalClientScopes ?? [])]),
      ];
      expect(referenced.filter((name: string) => !defined.has(name))).toEqual([]);
    });
  });

  describe('sample users', () => {
    const sampleUsers: any[] = sampleDirectory.users;
    const realmUsers: any[] = realm.users ?? [];
    const keycloakEntries: any[] = keycloakDirectory.users;

    it('both directory files are valid gateway directories of the same size', () => {
      expect(() => parseDirectory(sampleDirectory, 'config/directory.json')).not.toThrow();
      expect(() => parseDirectory(keycloakDirectory, 'deploy/directory.keycloak.json')).not.toThrow();
      expect(keycloakEntries).toHaveLength(sampleUsers.length);
      expect(realmUsers).toHaveLength(sampleUsers.length);
    });

    const cases: Array<[string, any]> = sampleUsers.map((u) => [u.username, u]);
    it.each(cases)(
      '%s exists in the realm and in the compose directory under the realm user id',
      (username: string, user: any) => {
        const realmUser = realmUsers.find((u) => u.username === username);
        expect(realmUser).toBeDefined();
        expect(realmUser.enabled).toBe(true);
        expect(realmUser.id).toMatch(UUID);
        // Keycloak 24+ user profile: an incomplete profile blocks the password grant.
        expect(realmUser.email).toEqual(expect.any(String));
        expect(realmUser.firstName).toEqual(expect.any(String));
        expect(realmUser.lastName).toEqual(expect.any(String));
        expect(realmUser.requiredActions ?? []).toEqual([]);
        expect(realmUser.credentials).toContainEqual({ type: 'password', value: 'password', temporary: false });

        const entry = keycloakEntries.find((e) => e.username === username);
        expect(entry).toBeDefined();
        expect(entry.sub).toBe(realmUser.id);
        const { sub: _sampleSub, ...sameFields } = user;
        const { sub: _keycloakSub, ...entryFields } = entry;
        expect(entryFields).toEqual(sameFields);
      },
    );

    /** Mode scopes Keycloak will put into a user's token: a scope with role scope mappings needs one of those roles. */
    const permittedModeScopes = (username: string): string[] => {
      const roles = new Set<string>(realmUsers.find((u) => u.username === username)?.realmRoles ?? []);
      return MODE_SCOPES.filter((scope) => {
        const mapped = (realm.scopeMappings ?? [])
          .filter((m: any) => m.clientScope === scope)
          .flatMap((m: any) => m.roles as string[]);
        return mapped.length === 0 || mapped.some((role: string) => roles.has(role));
      });
    };

    it('lets each user request only the mode scopes that fit their directory entry', () => {
      const realmRoles = new Set((realm.roles?.realm ?? []).map((r: any) => r.name));
      for (const scope of MODE_SCOPES) {
        const mapped = (realm.scopeMappings ?? []).filter((m: any) => m.clientScope === scope);
        expect(mapped.length).toBeGreaterThan(0);
        for (const role of mapped.flatMap((m: any) => m.roles)) expect(realmRoles).toContain(role);
      }
      for (const user of realmUsers) {
        for (const role of user.realmRoles ?? []) expect(realmRoles).toContain(role);
      }
      const expected: Record<string, string[]> = {
        alice: ['vora:user'],
        bob: ['vora:user'],
        carol: ['vora:user', 'vora:manager'],
        dave: ['vora:user'],
        oscar: ['vora:ott'],
        'erin.admin': ['vora:admin'],
      };
      for (const user of sampleUsers) {
        const permitted = permittedModeScopes(user.username);
        if (expected[user.username]) expect(permitted.sort()).toEqual(expected[user.username].sort());
        // Managers manage groups; admins use no phone number; OTT users have a fixed number.
        if (permitted.includes('vora:manager')) expect(user.manages.length).toBeGreaterThan(0);
        if (permitted.includes('vora:admin')) expect(user.identities).toEqual([]);
        if (permitted.includes('vora:ott')) expect(user.fixedNumber).toEqual(expect.any(String));
        expect(permitted.length).toBeGreaterThan(0);
      }
    });

    it('realm user ids are unique', () => {
      const ids = realmUsers.map((u) => u.id);
      expect(new Set(ids).size).toBe(ids.length);
    });
  });

  describe('gateway services', () => {
    const reads = variablesTheGatewayReads();

    it('reads the variables it is expected to (sanity check of the source scan)', () => {
      for (const name of ['NODE_ENV', 'STORE', 'REDIS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'PORT', 'DIRECTORY_FILE']) {
        expect(reads).toContain(name);
      }
    });

    it.each(GATEWAYS)('%s sets only variables the gateway reads', (name) => {
      const unknown = Object.keys(environmentOf(name)).filter((key) => !reads.has(key));
      expect(unknown).toEqual([]);
    });

    it('the image sets only variables the gateway reads', () => {
      const dockerfile = read('Dockerfile');
      const names = [...dockerfile.matchAll(/^ENV\s+(.+?)(?<!\\)$/gms)].flatMap((m) =>
        [...m[1].matchAll(/([A-Z][A-Z0-9_]*)=/g)].map((n) => n[1]),
      );
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !reads.has(n))).toEqual([]);
      expect(dockerfile).toMatch(/^USER\s+(?!root\b|0\b)\S+/m);
      expect(dockerfile).toMatch(/CMD\s+\["node",\s*"dist\/main\.js"\]/);
    });

    it('both run in production on the same Redis, with the same issuer and directory', () => {
      const envs = GATEWAYS.map(environmentOf);
      for (const env of envs) {
        expect(env.NODE_ENV).toBe('production');
        expect(env.STORE).toBe('redis');
        expect(env.REDIS_URL).toBe(envs[0].REDIS_URL);
        expect(env.AUTH_ISSUER).toBe(envs[0].AUTH_ISSUER);
        expect(env.AUTH_JWKS_URI).toBe(envs[0].AUTH_JWKS_URI);
        expect(env.DIRECTORY_FILE).toBe(envs[0].DIRECTORY_FILE);
      }
      expect(new URL(envs[0].REDIS_URL).hostname).toBe('redis');
      expect(service('redis')).toBeDefined();
    });

    it('trust the issuer that Keycloak puts into its tokens, with keys fetched inside the network', () => {
      const keycloakEnv = environmentOf('keycloak');
      const hostname = keycloakEnv.KC_HOSTNAME.replace(/\/$/, '');
      expect(hostname).toMatch(/^https?:\/\//);
      for (const name of GATEWAYS) {
        const env = environmentOf(name);
        expect(env.AUTH_ISSUER).toBe(`${hostname}/realms/${realm.realm}`);
        const jwks = new URL(env.AUTH_JWKS_URI);
        expect(jwks.hostname).toBe('keycloak');
        expect(jwks.pathname).toBe(`/realms/${realm.realm}/protocol/openid-connect/certs`);
      }
    });

    it('get a configuration the gateway starts with: production, with plain-HTTP Keycloak allowed for the internal network', () => {
      for (const name of GATEWAYS) {
        const env = environmentOf(name);
        const config = loadConfig(env);
        expect(config.production).toBe(true);
        expect(config.auth.allowHttp).toBe(true);
        // Without AUTH_ALLOW_HTTP the http:// Keycloak URLs would stop it at start-up.
        const { AUTH_ALLOW_HTTP: _allowed, ...strict } = env;
        expect(() => loadConfig(strict)).toThrow(/AUTH_ISSUER must be an https:\/\/ URL/);
      }
    });

    it('load the compose directory, mounted from deploy/', () => {
      for (const name of GATEWAYS) {
        const file = environmentOf(name).DIRECTORY_FILE;
        const mount = mountsOf(name).find((m) => m.target === file);
        expect(mount).toBeDefined();
        expect(normalise(mount!.source)).toBe('deploy/directory.keycloak.json');
      }
    });

    it('every bind-mounted file exists in the repository', () => {
      for (const name of Object.keys(compose.services)) {
        for (const { source } of mountsOf(name)) {
          if (source.startsWith('.') || source.startsWith('/')) {
            expect(existsSync(join(ROOT, normalise(source)))).toBe(true);
          }
        }
      }
    });

    it('trust the proxy, and only the proxy, to name the client (TRUST_PROXY)', () => {
      const proxyAddress = service('proxy').networks?.default?.ipv4_address;
      expect(proxyAddress).toEqual(expect.any(String));
      const subnet = compose.networks?.default?.ipam?.config?.[0]?.subnet as string;
      const [network, prefix] = subnet.split('/');
      const onNetwork = new BlockList();
      onNetwork.addSubnet(network, Number(prefix), 'ipv4');
      expect(onNetwork.check(proxyAddress, 'ipv4')).toBe(true);

      const viaProxy = (peer: string) =>
        ({ socket: { remoteAddress: peer }, headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.7' } }) as unknown as IncomingMessage;
      for (const name of GATEWAYS) {
        const env = environmentOf(name);
        expect(env.TRUST_PROXY).toBeDefined();
        const addresses = new ClientAddresses(loadConfig({ TRUST_PROXY: env.TRUST_PROXY }).http.trustProxy);
        // nginx appends the address it was reached from: the rightmost entry is the client.
        expect(addresses.of(viaProxy(proxyAddress))).toBe('203.0.113.7');
        // Another container on the network (a gateway, Keycloak) cannot name a client.
        expect(addresses.of(viaProxy(network.replace(/\.0$/, '.200')))).toBe(network.replace(/\.0$/, '.200'));
        // The cap counts clients now, so it keeps its default.
        expect(env.MAX_SOCKETS_PER_IP).toBeUndefined();
      }
    });

    it('are built from the Dockerfile and wait for Redis and Keycloak', () => {
      expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
      for (const name of GATEWAYS) {
        const gateway = service(name);
        expect(gateway.build).toBeDefined();
        expect(Object.keys(gateway.depends_on ?? {})).toEqual(expect.arrayContaining(['redis', 'keycloak']));
        expect(gateway.healthcheck).toBeDefined();
      }
    });
  });

  describe('proxy', () => {
    const config = withoutComments(nginx);

    it('serves port 8000 with the mounted nginx.conf', () => {
      const proxy = service('proxy');
      expect(String(proxy.image)).toMatch(/^nginx:1\.27/);
      expect(proxy.ports.map(String)).toContain('8000:8000');
      expect(config).toMatch(/listen\s+8000\s*;/);
      const mount = mountsOf('proxy').find((m) => m.target === '/etc/nginx/nginx.conf');
      expect(normalise(mount!.source)).toBe('deploy/nginx/nginx.conf');
    });

    it('balances across both gateways, without sticky sessions', () => {
      const upstreamName = /proxy_pass\s+http:\/\/([\w-]+)\s*;/.exec(config)![1];
      const upstream = nginxBlock(config, new RegExp(`upstream\\s+${upstreamName}\\s*\\{`));
      for (const name of GATEWAYS) {
        const port = environmentOf(name).PORT || '3000';
        expect(upstream).toMatch(new RegExp(`server\\s+${name}:${port}\\b`));
      }
      expect(upstream).not.toMatch(/\b(ip_hash|hash|sticky)\b/);
    });

    it('proxies /ws as a WebSocket with a long read timeout', () => {
      const ws = nginxBlock(config, /location\s+(=\s*)?\/ws\s*\{/);
      expect(ws).toMatch(/proxy_pass\s+http:\/\/[\w-]+\s*;/);
      // Upgrades need HTTP/1.1 to the upstream (set here or inherited from the server block).
      expect(ws + nginxBlock(config, /server\s*\{/)).toMatch(/proxy_http_version\s+1\.1\s*;/);
      expect(ws).toMatch(/proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;/);
      const connection = /proxy_set_header\s+Connection\s+(\S+)\s*;/.exec(ws)?.[1];
      expect(connection === '"upgrade"' || connection === 'upgrade' || connection === '$connection_upgrade').toBe(true);
      const timeout = /proxy_read_timeout\s+(\d+)(s|m|h)?\s*;/.exec(ws);
      expect(timeout).not.toBeNull();
      const seconds = Number(timeout![1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[timeout![2] ?? 's'];
      expect(seconds).toBeGreaterThanOrEqual(300);
    });

    it('sends the client address in X-Forwarded-For on every location that proxies', () => {
      const locations = [...config.matchAll(/location\s+[^{]*\{/g)].map((m) => nginxBlock(config.slice(m.index), /location\s+[^{]*\{/));
      const proxying = locations.filter((block) => /proxy_pass\s/.test(block));
      expect(proxying.length).toBeGreaterThanOrEqual(2);
      for (const block of proxying) expect(block).toMatch(/proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for\s*;/);
    });

    it('answers /metrics itself with 404 in the gateway error shape, never routing it to a gateway', () => {
      const metrics = nginxBlock(config, /location\s+=\s*\/metrics\s*\{/);
      expect(metrics).not.toMatch(/proxy_pass/);
      expect(metrics).toMatch(/default_type\s+application\/json\s*;/);
      const body = /return\s+404\s+'([^']*)'\s*;/.exec(metrics)?.[1];
      expect(body).toBeDefined();
      const parsed = JSON.parse(body!.replace('$time_iso8601', '2026-11-28T10:15:30+00:00').replace('$request_method', 'GET'));
      expect(parsed).toEqual({ timestamp: '2026-11-28T10:15:30+00:00', status: '404', error: 'Not Found', message: 'no operation at GET /metrics' });
      // Prometheus reaches each gateway on its metrics port instead, which no service publishes.
      for (const name of GATEWAYS) {
        expect(Number(environmentOf(name).METRICS_PORT)).toBeGreaterThan(0);
        expect(service(name).ports).toBeUndefined();
      }
    });

    it('does not log query strings, which carry tokens', () => {
      for (const format of config.matchAll(/log_format\s+\w+([^;]*);/g)) {
        expect(format[1]).not.toMatch(/\$(request|request_uri|args|query_string)\b/);
      }
      expect(config).toMatch(/access_log\s+\S+\s+\w+\s*;/);
    });
  });
});
