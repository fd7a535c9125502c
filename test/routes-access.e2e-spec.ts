import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { AccessGuard } from '../src/auth/access.guard';
import { ACCESS_RULE, AccessRule } from '../src/auth/access.decorator';
import { TokenVerifier } from '../src/auth/token-verifier';
import { expectError, http, RunningGateway, useGateway } from './support/harness';

interface Route {
  name: string;
  method: string;
  path: string;
  rule: AccessRule | undefined;
}

/** Fastify routes that Nest does not serve, and why they need no access rule. */
const NON_NEST_ROUTES: ReadonlyArray<{ method: string; url: RegExp; why: string }> = [
  { method: 'GET', url: /^\/docs(\/.*|-json|-yaml)?$/, why: 'Swagger UI and the OpenAPI document are public' },
  { method: 'HEAD', url: /^\/docs(\/.*|-json|-yaml)?$/, why: 'Swagger UI and the OpenAPI document are public' },
  { method: 'OPTIONS', url: /^\/?\*$/, why: 'CORS preflight for routes without an OPTIONS operation; answers no data' },
];

const joinPath = (...parts: string[]) => `/${parts.flatMap((p) => p.split('/')).filter(Boolean).join('/')}`;

describe('every route declares its access', () => {
  const { gateway } = useGateway({}, { issuer: false });
  let routes: Route[];

  beforeAll(async () => {
    routes = nestRoutes(gateway);
  });

  it('finds the controllers of the seed', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'GET /identity',
        'OPTIONS /identity',
        'POST /identity/setup',
        'POST /identity/:identity/eventSubscription',
        'POST /logout/:identity',
        'GET /health/liveness',
        'GET /health/readiness',
      ]),
    );
  });

  it('has @Public() or @Requires(...) on every controller handler', () => {
    const undeclared = routes.filter((r) => r.rule === undefined).map((r) => r.name);
    expect(undeclared).toEqual([]);
  });

  it('lets every @Requires(...) route grant at least one access', () => {
    const empty = routes.filter((r) => r.rule && !r.rule.public && r.rule.allowed.length === 0).map((r) => r.name);
    expect(empty).toEqual([]);
  });

  it('keeps public exactly the routes that need no token', () => {
    const open = routes.filter((r) => r.rule?.public).map((r) => `${r.method} ${r.path}`);
    // A route that turns public must be added here on purpose; a client operation of the seed never is.
    expect(open.sort()).toEqual(
      [
        'GET /asyncapi',
        'GET /asyncapi.json',
        'GET /asyncapi/asyncapi.css',
        'GET /asyncapi/page.js',
        'GET /asyncapi/standalone.js',
        'GET /console',
        'GET /console/console.css',
        'GET /console/console.js',
        // The development issuer's, which production cannot load: its keys, and the console's sign-in.
        'GET /dev-issuer/jwks.json',
        'GET /dev-issuer/users',
        'POST /dev-issuer/token',
        'GET /health/liveness',
        'GET /health/readiness',
        'GET /metrics',
        'GET /ws',
        'OPTIONS /identity',
      ].sort(),
    );
  });

  it('keeps every other route behind a token, by name', () => {
    const secured = routes.filter((r) => r.rule && !r.rule.public).map((r) => `${r.method} ${r.path}`);
    expect(secured.sort()).toEqual(
      ['GET /identity', 'POST /events', 'POST /identity/:identity/eventSubscription', 'POST /identity/setup', 'POST /logout/:identity'].sort(),
    );
  });

  it('answers 401 without a token on every route that requires one', async () => {
    const secured = routes.filter((r) => r.rule && !r.rule.public);
    expect(secured.length).toBeGreaterThanOrEqual(4);
    for (const route of secured) {
      const path = route.path.replace(/:[A-Za-z]+/g, '%2B905321110001');
      const result = await http(`${gateway.url}${path}`, {
        method: route.method,
        ...(route.method === 'POST' ? { body: {} } : {}),
      });
      expectError(result, 401);
      expect(result.headers.get('www-authenticate')).toBe('Bearer realm="vora"');
    }
  });

  it('serves no Fastify route outside Nest (and its guard) beyond the known public ones', () => {
    const fastify = gateway.app.getHttpAdapter().getInstance();
    const nest = new Set(routes.flatMap((r) => [`${r.method} ${r.path}`, ...(r.method === 'GET' ? [`HEAD ${r.path}`] : [])]));
    const table: { method: string; url: string }[] = [];
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const printed = fastify.printRoutes({ method: method as never, commonPrefix: false });
      for (const url of urlsOf(printed)) table.push({ method, url });
    }
    expect(table.length).toBeGreaterThan(0);
    const unexplained = table.filter(
      ({ method, url }) => !nest.has(`${method} ${url}`) && !NON_NEST_ROUTES.some((r) => r.method === method && r.url.test(url)),
    );
    expect(unexplained).toEqual([]);
  });

  it('denies a handler without a declaration (the guard fails closed)', () => {
    class Undeclared {
      handler(): void {}
    }
    const guard = new AccessGuard(gateway.app.get(Reflector), gateway.app.get(TokenVerifier));
    const context = new ExecutionContextHost([{ headers: {}, query: {} }, {}], Undeclared, Undeclared.prototype.handler);
    context.setType('http');
    expect(() => guard.canActivate(context)).toThrow('Undeclared.handler declares no access rule');
  });
});

/** Every handler of every controller in the running app, with its access rule. */
function nestRoutes(gateway: RunningGateway): Route[] {
  const discovery = new DiscoveryService(gateway.app.get(ModulesContainer));
  const scanner = new MetadataScanner();
  const reflector = gateway.app.get(Reflector);
  const routes: Route[] = [];
  for (const wrapper of discovery.getControllers()) {
    const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
    if (!type) continue;
    const base: string | string[] = Reflect.getMetadata(PATH_METADATA, type) ?? '';
    for (const name of scanner.getAllMethodNames(type.prototype)) {
      const handler = (type.prototype as Record<string, unknown>)[name] as object;
      const path: string | string[] | undefined = Reflect.getMetadata(PATH_METADATA, handler);
      if (path === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      const rule = reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler as never, type]);
      for (const b of [base].flat()) {
        for (const p of [path].flat()) routes.push({ name: `${type.name}.${name}`, method, path: joinPath(b, p), rule });
      }
    }
  }
  return routes;
}

/** Full URLs from Fastify's printRoutes tree (commonPrefix: false prints one segment chain per line). */
function urlsOf(printed: string): string[] {
  const urls: string[] = [];
  const stack: { depth: number; text: string }[] = [];
  for (const line of printed.split('\n')) {
    const match = line.match(/^([│ ]*)[├└]── (.*?)(?: \(([^)]*)\))?$/);
    if (!match) continue;
    const depth = match[1].length / 4;
    stack.length = depth;
    stack[depth] = { depth, text: match[2] };
    if (match[3] !== undefined) urls.push(stack.map((s) => s.text).join(''));
  }
  return urls;
}
