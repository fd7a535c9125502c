import WebSocket from 'ws';
import { DevTokenSigner } from '../src/auth/dev-issuer/dev-token-signer';
import { ALICE } from './support/fixtures';
import { http, useGateway } from './support/harness';

/**
 * Swagger UI's "Try it out" + "Execute" with the examples the document gives,
 * for the sample user alice of config/directory.json with a token of the
 * development issuer (what `npm run token -- --sub alice --scope vora:user`
 * prints). In the order a newcomer clicks: setup before the operations that
 * need a session, logout last.
 */
const OPERATIONS = [
  'GET /identity',
  'OPTIONS /identity',
  'POST /identity/setup',
  'POST /identity/{identity}/eventSubscription',
  'GET /ws',
  'POST /events',
  'POST /logout/{identity}',
  'GET /health/liveness',
  'GET /health/readiness',
] as const;

interface Example {
  name: string;
  value: unknown;
}

/** The request body examples in Swagger UI's order: `example`, else the named ones, the first being the default. */
function bodyExamples(operation: any): Example[] {
  const media = operation.requestBody?.content?.['application/json'];
  if (!media) return [];
  if (media.example !== undefined) return [{ name: 'example', value: media.example }];
  return Object.entries<any>(media.examples ?? {}).map(([name, example]) => ({ name, value: example.value }));
}

/** The path and query as Swagger UI fills them from the parameters' examples. */
function urlOf(path: string, operation: any, extraQuery: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  let filled = path;
  for (const parameter of operation.parameters ?? []) {
    const example = parameter.example ?? parameter.schema?.example;
    if (example === undefined) continue;
    if (parameter.in === 'path') filled = filled.replace(`{${parameter.name}}`, encodeURIComponent(example));
    if (parameter.in === 'query') query.set(parameter.name, String(example));
  }
  for (const [name, value] of Object.entries(extraQuery)) query.set(name, value);
  expect(filled).not.toMatch(/[{}]/);
  return query.size ? `${filled}?${query}` : filled;
}

/** The one success status the operation documents (101 for the socket). */
function successStatus(operation: any): number {
  const statuses = Object.keys(operation.responses).map(Number).filter((status) => status < 300);
  expect(statuses).toHaveLength(1);
  return statuses[0];
}

describe("Swagger UI's examples, sent as given", () => {
  const { gateway } = useGateway({}, { issuer: false });
  let document: any;
  let tokens: { alice: string; core: string };
  let webSocketToken: string | undefined;

  beforeAll(async () => {
    document = (await http(`${gateway.url}/docs-json`)).body;
    const signer = gateway.app.get(DevTokenSigner);
    const sign = (sub: string, scope: string) => signer.sign({ sub, scope });
    tokens = { alice: await sign('alice', 'vora:user'), core: await sign('core', 'vora:events:publish') };
  });

  const operationOf = (name: string) => {
    const [method, path] = name.split(' ');
    return { method, path, operation: document.paths[path][method.toLowerCase()] };
  };

  /** The operation's request with the token Authorize would hold: alice's, or the platform's under "platform". */
  const send = (name: string, body: unknown) => {
    const { method, path, operation } = operationOf(name);
    const token = !operation.security?.length ? undefined : operation.tags.includes('platform') ? tokens.core : tokens.alice;
    return http(`${gateway.url}${urlOf(path, operation)}`, { method, token, body });
  };

  it('covers every operation of the document', () => {
    const documented = Object.entries<any>(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect([...documented].sort()).toEqual([...OPERATIONS].sort());
  });

  const succeeds = async (name: string) => {
    const { operation } = operationOf(name);
    const examples = bodyExamples(operation);
    const expected = successStatus(operation);
    for (const example of examples.length ? examples : [{ name: '(no body)', value: undefined }]) {
      const result = await send(name, example.value);
      // The body is there to read when it fails.
      expect({ example: example.name, status: result.status, body: result.body }).toMatchObject({ example: example.name, status: expected });
      if (name === 'POST /identity/setup' && !webSocketToken) webSocketToken = result.body.webSocketToken;
    }
  };

  /** The socket, with the query examples and the webSocketToken of the default setup example. */
  const opensSocket = async () => {
    const { path, operation } = operationOf('GET /ws');
    expect(successStatus(operation)).toBe(101);
    expect(webSocketToken).toEqual(expect.any(String));
    const url = `${gateway.wsUrl}${urlOf(path, operation, { token: webSocketToken! })}`;
    const socket = new WebSocket(url);
    try {
      const [status, welcome] = await new Promise<[number, any]>((resolve, reject) => {
        let upgraded = 0;
        socket.once('upgrade', (response) => (upgraded = response.statusCode ?? 0));
        socket.once('message', (data) => resolve([upgraded, JSON.parse(data.toString())]));
        socket.once('unexpected-response', (_request, response) => reject(new Error(`refused with ${response.statusCode}`)));
        socket.once('error', reject);
      });
      expect(status).toBe(101);
      expect(welcome).toMatchObject({ type: 'welcome', identity: ALICE, mode: 'user', lastEventId: expect.any(String) });
    } finally {
      socket.close();
    }
  };

  // One test per operation, run in this order: later ones need the session the setup example opened.
  for (const name of OPERATIONS) {
    if (name === 'GET /ws') it('GET /ws: the query examples with the setup\'s webSocketToken open the socket (101, then the welcome)', opensSocket);
    else it(`${name}: the default example succeeds, and so does every named one`, () => succeeds(name));
  }
});
