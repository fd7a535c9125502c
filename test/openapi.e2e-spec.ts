import { STATUS_CODES } from 'node:http';
import { http, startGateway, useGateway } from './support/harness';

/** The seed's seven operations (seed/vora-rest-api.md), copied word for word. */
const SEED_OPERATIONS = [
  {
    method: 'post',
    path: '/logout/{identity}',
    summary: 'User Log Out',
    description: 'The action will be used to clean up the existing REST and WS connections after the user log out.',
    secured: true,
  },
  {
    method: 'post',
    path: '/identity/{identity}/eventSubscription',
    summary: 'Events Subscription',
    description:
      'It will be executed also right after the registration by default and the application will be subscribe the required events that it will be informed throughout its registered session. Although it is triggerred automatically in the registration, the application user can sent is anytime to update the subscription state. It is enabled for both user and manager modes..',
    secured: true,
  },
  {
    method: 'post',
    path: '/identity/setup',
    summary: 'User Initial Setup',
    description:
      'The action will be used to get the session setup right after the registration process by default. The application is required to provide the connectionType and it will be informed the subscriber phone number details for further usage.',
    secured: true,
  },
  {
    method: 'get',
    path: '/identity',
    summary: 'Get Identity',
    description:
      'VORA user can register with the defined username and password on the application but the selection for the preferred identity that it wants to use during the VORA session can change.',
    secured: true,
  },
  { method: 'options', path: '/identity', summary: undefined, description: undefined, secured: false },
  { method: 'get', path: '/health/readiness', summary: 'Readiness', description: 'Check readiness status of the service.', secured: false },
  { method: 'get', path: '/health/liveness', summary: 'Liveness', description: 'Check liveness status of the service.', secured: false },
] as const;

/** The seed's responses of a client operation, in its words. */
const CLIENT_RESPONSES: Record<string, string> = {
  '200': 'Successful operation',
  '400': 'Bad Request',
  '401': 'The access token is expired, revoked, malformed, or invalid for other reasons',
  '403': 'The access token has insufficient scope',
  '404': 'Not found',
  '409': 'Conflict',
  '500': 'Internal Server Error',
};
const HEALTH_RESPONSES: Record<string, string> = { '204': 'No Content', '503': 'Service Unavailable' };
const ERROR_REF = { $ref: '#/components/schemas/ResponseStatusVoraError' };

const SETUP_IN_DESCRIPTIONS = {
  connectionType: 'This parameter will provide the information about the connection type for the application.',
  identity:
    'The VORA user will provide one of its identities to use the VORA session. For the User and Manager mode, it should be the phone number with the VORA service to be able to use the call control features. For the OTT users, only the fixed number will be allowed as the OneNet defined number. In the administrator mode, the user identity will be the username since there is no phone number assigned to the user.',
  holdUpMode:
    'It is allowed only for the soft clients running on the mobile phones, where the web application should initiate a push notification for the terminating calls to get the readiness of the client.',
};
const SETUP_OUT_DESCRIPTION =
  'This will be used to authenticate the WebSocket connection which is different than the access token and will be created by the VORA Gateway. Hence this connection will be independent from the oAuth server.';

describe('OpenAPI', () => {
  const { gateway } = useGateway({}, { issuer: false });
  let document: any;
  const operation = (path: string, method: string) => document.paths[path]?.[method];

  beforeAll(async () => {
    const result = await http(`${gateway.url}/docs-json`);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    document = result.body;
  });

  it('serves Swagger UI at /docs without a token', async () => {
    const result = await http(`${gateway.url}/docs`);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^text\/html/);
    expect(result.body).toContain('<title>Swagger UI</title>');
    const init = await http(`${gateway.url}/docs/swagger-ui-init.js`);
    expect(init.status).toBe(200);
    expect(init.body).toContain('VORA Rest API');
  });

  it('is titled VORA Rest API, version 0.2', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.title).toBe('VORA Rest API');
    expect(document.info.version).toBe('0.2');
    expect(document.info.description).toBe('VORA Telephony API Platform.');
  });

  it.each(SEED_OPERATIONS.map((op) => [`${op.method.toUpperCase()} ${op.path}`, op]))(
    'has %s with the seed summary and description',
    (_name, seed) => {
      const op = operation(seed.path, seed.method);
      expect(op).toBeDefined();
      expect(op.summary).toBe(seed.summary);
      expect(op.description).toBe(seed.description);
    },
  );

  it('has no other operation on the seed paths', () => {
    for (const path of new Set(SEED_OPERATIONS.map((op) => op.path))) {
      const methods = Object.keys(document.paths[path]).filter((key) => key !== 'parameters');
      const seed = SEED_OPERATIONS.filter((op) => op.path === path).map((op) => op.method);
      expect(methods.sort()).toEqual([...seed].sort());
    }
  });

  it('does not document the development issuer', () => {
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/dev-issuer'))).toEqual([]);
  });

  it.each(SEED_OPERATIONS.filter((op) => op.secured).map((op) => [`${op.method.toUpperCase()} ${op.path}`, op]))(
    'lists the seed status codes of %s (plus the rate limit\'s 429), errors as ResponseStatusVoraError',
    (_name, seed) => {
      const responses = operation(seed.path, seed.method).responses;
      expect(Object.keys(responses).sort()).toEqual([...Object.keys(CLIENT_RESPONSES), '429'].sort());
      for (const [status, description] of Object.entries(CLIENT_RESPONSES)) {
        expect(responses[status].description).toBe(description);
        if (status !== '200') expect(responses[status].content['application/json'].schema).toEqual(ERROR_REF);
      }
    },
  );

  it('types the 200 bodies of the client operations', () => {
    const ok = (path: string, method: string) => operation(path, method).responses['200'].content?.['application/json']?.schema;
    expect(ok('/identity', 'get')).toEqual({ $ref: '#/components/schemas/IdentityOut' });
    expect(ok('/identity/setup', 'post')).toEqual({ $ref: '#/components/schemas/SetupOut' });
    expect(ok('/identity/{identity}/eventSubscription', 'post')).toMatchObject({
      type: 'object',
      properties: { subscribeAll: { type: 'boolean' }, events: { type: 'array', items: { type: 'string' } } },
    });
    expect(operation('/logout/{identity}', 'post').responses['200'].content).toBeUndefined();
  });

  it('takes SetupIn and EventsIn as request bodies', () => {
    const body = (path: string) => operation(path, 'post').requestBody.content['application/json'].schema;
    expect(body('/identity/setup')).toEqual({ $ref: '#/components/schemas/SetupIn' });
    expect(body('/identity/{identity}/eventSubscription')).toEqual({ $ref: '#/components/schemas/EventsIn' });
  });

  it('declares the identity path parameter', () => {
    for (const path of ['/logout/{identity}', '/identity/{identity}/eventSubscription']) {
      const [parameter] = operation(path, 'post').parameters;
      expect(parameter).toMatchObject({ name: 'identity', in: 'path', required: true, schema: { type: 'string' } });
    }
  });

  it('answers OPTIONS /identity with 200 OK only', () => {
    const responses = operation('/identity', 'options').responses;
    expect(Object.keys(responses)).toEqual(['200']);
    expect(responses['200'].description).toBe('OK');
    expect(responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/IdentityOut' });
  });

  it.each(['/health/readiness', '/health/liveness'])('answers %s with 204 or 503', (path) => {
    const responses = operation(path, 'get').responses;
    expect(Object.keys(responses).sort()).toEqual(['204', '503']);
    for (const [status, description] of Object.entries(HEALTH_RESPONSES)) expect(responses[status].description).toBe(description);
    expect(responses['204'].content).toBeUndefined();
    expect(responses['503'].content['application/json'].schema).toEqual(ERROR_REF);
  });

  describe('schemas', () => {
    const schema = (name: string) => document.components.schemas[name];

    it('has ResponseStatusVoraError with four required strings', () => {
      expect(schema('ResponseStatusVoraError')).toMatchObject({ type: 'object' });
      expect(Object.keys(schema('ResponseStatusVoraError').properties)).toEqual(['timestamp', 'status', 'error', 'message']);
      for (const field of ['timestamp', 'status', 'error', 'message']) {
        expect(schema('ResponseStatusVoraError').properties[field].type).toBe('string');
      }
      expect([...schema('ResponseStatusVoraError').required].sort()).toEqual(['error', 'message', 'status', 'timestamp']);
    });

    it('has EventsIn: subscribeAll required boolean, events optional list of strings', () => {
      const eventsIn = schema('EventsIn');
      expect(Object.keys(eventsIn.properties)).toEqual(['subscribeAll', 'events']);
      expect(eventsIn.properties.subscribeAll).toMatchObject({ type: 'boolean', description: 'By default, for the all allowed events.' });
      expect(eventsIn.properties.events).toMatchObject({ type: 'array', items: { type: 'string' } });
      expect(eventsIn.required).toEqual(['subscribeAll']);
    });

    it('has SetupIn: connectionType and identity required, holdUpMode optional, with the seed descriptions', () => {
      const setupIn = schema('SetupIn');
      expect(Object.keys(setupIn.properties)).toEqual(['connectionType', 'identity', 'holdUpMode']);
      expect(setupIn.properties.connectionType).toMatchObject({
        type: 'string',
        enum: ['WEB', 'DESKTOP', 'MOBILE'],
        description: SETUP_IN_DESCRIPTIONS.connectionType,
      });
      expect(setupIn.properties.identity).toMatchObject({ type: 'string', description: SETUP_IN_DESCRIPTIONS.identity });
      expect(setupIn.properties.holdUpMode).toMatchObject({ type: 'boolean', description: SETUP_IN_DESCRIPTIONS.holdUpMode });
      expect([...setupIn.required].sort()).toEqual(['connectionType', 'identity']);
    });

    it('has SetupOut: the webSocketToken with the seed description', () => {
      const setupOut = schema('SetupOut');
      expect(Object.keys(setupOut.properties)).toEqual(['webSocketToken']);
      expect(setupOut.properties.webSocketToken).toMatchObject({ type: 'string', description: SETUP_OUT_DESCRIPTION });
      expect(setupOut.required).toEqual(['webSocketToken']);
    });

    it('has IdentityOut: identities, an optional list of strings', () => {
      const identityOut = schema('IdentityOut');
      expect(Object.keys(identityOut.properties)).toEqual(['identities']);
      expect(identityOut.properties.identities).toMatchObject({ type: 'array', items: { type: 'string' } });
      expect(identityOut.required ?? []).toEqual([]);
    });
  });

  describe('security_auth', () => {
    it('is HTTP bearer with JWT tokens', () => {
      expect(document.components.securitySchemes.security_auth).toEqual({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: expect.any(String),
      });
    });

    it('tells the Authorize dialog how to get a token, and which profile it follows', () => {
      const { description } = document.components.securitySchemes.security_auth;
      expect(description).toContain('`npm run token -- --sub alice --scope vora:user`');
      expect(description).toContain("issuer's token endpoint");
      expect(description).toContain('RFC 9068');
      expect(description).toContain('RFC 8725');
    });

    it('names the trusted issuer when one is configured', async () => {
      const external = await startGateway({ AUTH_ISSUER: 'http://127.0.0.1:9/realms/vora', AUTH_JWKS_URI: 'http://127.0.0.1:9/certs' });
      try {
        const { description } = (await http(`${external.url}/docs-json`)).body.components.securitySchemes.security_auth;
        expect(description).toContain('tokens issued by http://127.0.0.1:9/realms/vora: get one from its token endpoint');
        expect(description).not.toContain('npm run token');
      } finally {
        await external.close();
      }
    });

    it('is declared absent, with security: [], on every public operation', () => {
      const publicOperations = [
        ['/identity', 'options'],
        ['/health/liveness', 'get'],
        ['/health/readiness', 'get'],
        ['/ws', 'get'],
      ];
      for (const [path, method] of publicOperations) expect(operation(path, method).security).toEqual([]);
      for (const item of Object.values<any>(document.paths)) {
        for (const op of Object.values<any>(item)) expect(op.security).toBeDefined();
      }
    });

    it.each(SEED_OPERATIONS.map((op) => [`${op.method.toUpperCase()} ${op.path}`, op]))('is required by %s only if the seed says so', (_name, seed) => {
      const op = operation(seed.path, seed.method);
      if (seed.secured) expect(op.security).toEqual([{ security_auth: [] }]);
      else expect(op.security ?? []).toEqual([]);
    });

    it('is the only security scheme, and no operation names another', () => {
      expect(Object.keys(document.components.securitySchemes)).toEqual(['security_auth']);
      for (const methods of Object.values<any>(document.paths)) {
        for (const op of Object.values<any>(methods)) {
          for (const requirement of op.security ?? []) expect(Object.keys(requirement)).toEqual(['security_auth']);
        }
      }
      expect(document.security ?? []).toEqual([]);
    });
  });

  describe('tags, servers and examples', () => {
    const operations = () =>
      Object.entries<any>(document.paths).flatMap(([path, item]) =>
        Object.entries<any>(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })),
      );

    it('puts every operation under exactly one tag, each declared with a description', () => {
      const declared = new Map(document.tags.map((tag: any) => [tag.name, tag.description]));
      for (const { name, op } of operations()) {
        expect({ name, tags: op.tags }).toEqual({ name, tags: [expect.any(String)] });
        expect(declared.get(op.tags[0])).toEqual(expect.stringMatching(/\S/));
      }
      expect([...declared.keys()].sort()).toEqual([...new Set(operations().map(({ op }) => op.tags[0]))].sort());
    });

    it('has a server entry: the origin serving the document', () => {
      expect(document.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    });

    it('gives every error response an example body of its own status', () => {
      for (const { name, op } of operations()) {
        const messages = new Set<string>();
        for (const [status, response] of Object.entries<any>(op.responses)) {
          if (Number(status) < 400) continue;
          const examples = Object.values<any>(response.content['application/json'].examples ?? {});
          expect({ name, status, examples: examples.length }).toEqual({ name, status, examples: 1 });
          const [{ summary, value }] = examples;
          expect(summary).toEqual(expect.stringMatching(/\S/));
          expect({ name, value }).toEqual({
            name,
            value: { timestamp: expect.stringMatching(/Z$/), status, error: STATUS_CODES[Number(status)], message: expect.any(String) },
          });
          messages.add(value.message);
        }
        const errors = Object.keys(op.responses).filter((status) => Number(status) >= 400);
        expect({ name, distinctMessages: messages.size }).toEqual({ name, distinctMessages: errors.length });
      }
    });

    it('documents 429 with Retry-After wherever a rate limit or socket cap applies', () => {
      const limited = ['GET /identity', 'POST /identity/setup', 'POST /identity/{identity}/eventSubscription', 'POST /logout/{identity}', 'POST /events', 'GET /ws'];
      for (const { name, op } of operations()) {
        const tooMany = op.responses['429'];
        if (!limited.includes(name)) {
          expect({ name, tooMany }).toEqual({ name, tooMany: undefined });
          continue;
        }
        expect(tooMany.headers['Retry-After']).toMatchObject({ schema: { type: 'integer', minimum: 1 } });
      }
    });
  });

  describe('additions beyond the seed, under their own tags', () => {
    it('documents the socket endpoint under "websocket"', () => {
      const ws = document.paths['/ws'].get;
      expect(ws.tags).toEqual(['websocket']);
      expect(ws.description).toContain('lastEventId');
      expect(Object.keys(ws.responses).sort()).toEqual(['101', '400', '401', '403', '426', '429', '503']);
      expect(ws.security).toEqual([]);
    });

    it('gives the socket\'s query parameters real schemas', () => {
      const parameters = Object.fromEntries(document.paths['/ws'].get.parameters.map((p: any) => [p.name, p]));
      expect(parameters.token).toMatchObject({ in: 'query', required: false, schema: { type: 'string', minLength: 1 } });
      expect(parameters.lastEventId).toMatchObject({ in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{1,15}$' } });
      expect(new RegExp(parameters.lastEventId.schema.pattern).test(parameters.lastEventId.schema.example)).toBe(true);
    });

    it('documents the platform ingress under "platform", secured by security_auth', () => {
      const ingress = document.paths['/events'].post;
      expect(ingress.tags).toEqual(['platform']);
      expect(ingress.security).toEqual([{ security_auth: [] }]);
      expect(Object.keys(ingress.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413']));
      expect(ingress.requestBody.content['application/json'].schema.oneOf).toHaveLength(2);
    });

    it('leaves the seed operations untagged by the additions', () => {
      for (const [path, operations] of Object.entries<any>(document.paths)) {
        if (path === '/ws' || path === '/events') continue;
        for (const operation of Object.values<any>(operations)) {
          expect(operation.tags ?? []).not.toEqual(expect.arrayContaining(['websocket']));
          expect(operation.tags ?? []).not.toEqual(expect.arrayContaining(['platform']));
        }
      }
    });
  });
});
