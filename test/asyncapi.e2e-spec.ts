import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { ALICE, REMOTE_PARTY } from './support/fixtures';
import { http, openSession, publishAccepted, useGateway } from './support/harness';

/** GET /asyncapi.json and /asyncapi (SPEC section 11), and a live socket's frames checked against the document. */
describe('the AsyncAPI document over HTTP', () => {
  const { issuer, gateway } = useGateway({ HEARTBEAT_INTERVAL_MS: '5000' });

  it('is public JSON, with this gateway\'s heartbeat', async () => {
    const result = await http(`${gateway.url}/asyncapi.json`);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(result.body.asyncapi).toBe('3.0.0');
    expect(result.body.channels.events.description).toContain('This gateway pings every 5000 ms');
  });

  it('stays out of the OpenAPI document, which describes the REST API', async () => {
    const openapi = (await http(`${gateway.url}/docs-json`)).body;
    expect(Object.keys(openapi.paths).filter((path) => path.startsWith('/asyncapi') || path.startsWith('/console'))).toEqual([]);
  });

  it('serves the viewer page with its own local assets and a policy that allows only them', async () => {
    const page = await fetch(`${gateway.url}/asyncapi`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp.split(';')).toEqual(
      expect.arrayContaining([`default-src 'none'`, `script-src 'self' 'unsafe-eval'`, `connect-src 'self'`, `frame-ancestors 'none'`]),
    );
    const html = await page.text();
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
    const assets = [...html.matchAll(/(?:src|href)="(\/asyncapi\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.sort()).toEqual(['/asyncapi/asyncapi.css', '/asyncapi/page.js', '/asyncapi/standalone.js']);
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of assets) {
      const response = await fetch(`${gateway.url}${asset}`);
      expect(response.status).toBe(200);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  });

  it('describes every frame a live socket gets: welcome, event, pong and error', async () => {
    const document = (await http(`${gateway.url}/asyncapi.json`)).body;
    const ajv = addFormats(new Ajv({ strict: false }));
    const validate = (key: string, message: unknown) => {
      const check = ajv.compile(document.components.messages[key].payload);
      expect({ key, valid: check(message), errors: check.errors }).toMatchObject({ valid: true });
    };
    const alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const { socket, welcome } = await openSession(gateway, alice, { identity: ALICE });
    validate('welcome', welcome);
    await publishAccepted(gateway, await issuer.sign({ sub: 'core', scope: 'vora:events:publish' }), {
      event: 'CallDelivered',
      identity: ALICE,
      data: { callId: 'c-1', direction: 'terminating', remoteParty: REMOTE_PARTY },
    });
    const event = await socket.nextEvent();
    validate('event', event);
    validate('event.CallDelivered', event);
    socket.send(document.components.messages.ping.examples[0].payload);
    validate('pong', await socket.next());
    socket.send({ type: 'hello' });
    validate('error', await socket.next());
    await socket.close();
  });
});
