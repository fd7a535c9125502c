import { rawRequest } from './attack/attack-kit';
import { eventually, expectError, LogCapture, useGateway } from './support/harness';

const PINO_WARN = 40;

/**
 * Swagger UI's files under /docs (served by @fastify/static): requests the
 * file server refuses are client errors, answered with their own status in
 * the seed's error body, and logged at most at warn, never as a failure of
 * the gateway with a stack.
 */
describe('static files under /docs', () => {
  const logs = new LogCapture();
  const { gateway } = useGateway({ LOG_LEVEL: 'trace' }, { issuer: false, logStream: logs });

  it('serves them (the cases below are refusals, not a broken file server)', async () => {
    const result = await rawRequest(gateway, '/docs/swagger-ui.css');
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it.each([
    ['a Range past the end', '/docs/swagger-ui.css', { range: 'bytes=99999999-' }, 416, /^the requested Range lies outside the file \(Content-Range: bytes \*\/\d+\)$/],
    ['a Range that ends before it starts', '/docs/swagger-ui.css', { range: 'bytes=50-10' }, 416, /^the requested Range lies outside the file/],
    ['an If-Match no version meets', '/docs/swagger-ui.css', { 'if-match': '"no-such-etag"' }, 412, "the file does not meet the request's If-Match or If-Unmodified-Since precondition"],
    ['an If-Unmodified-Since before the file', '/docs/swagger-ui.css', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }, 412, /If-Match or If-Unmodified-Since/],
    ['a NUL byte', '/docs/swagger-ui%00.css', {}, 400, 'the file path of GET /docs/swagger-ui%00.css holds a NUL byte'],
    ['an encoded traversal', '/docs/%2e%2e%2fpackage.json', {}, 404, 'no operation at GET /docs/%2e%2e%2fpackage.json'],
    ['an encoded traversal out of the package', '/docs/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json', {}, 404, 'no operation at GET /docs/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json'],
    ['encoded slashes around ..', '/docs/..%2f..%2fpackage.json', {}, 404, 'no operation at GET /docs/..%2f..%2fpackage.json'],
    ['an encoded backslash', '/docs/..%5cpackage.json', {}, 404, 'no operation at GET /docs/..%5cpackage.json'],
    ['a ./ segment', '/docs/.%2fswagger-ui.css', {}, 404, 'no operation at GET /docs/.%2fswagger-ui.css'],
  ] as Array<[string, string, Record<string, string>, number, string | RegExp]>)(
    'answers %s with its status and the error body, logged below error',
    async (_what, path, headers, status, message) => {
      const requestId = `docs-${status}-${Math.random().toString(36).slice(2)}`;
      const result = await rawRequest(gateway, path, { headers: { ...headers, 'x-request-id': requestId } });
      expectError(result, status, message);
      if (status === 416) expect(result.headers.get('content-range')).toMatch(/^bytes \*\/\d+$/);

      const line = await eventually(() => {
        const found = logs.records.find((record) => record.req?.id === requestId && record.msg === 'request completed');
        if (!found) throw new Error('no access line yet');
        return found;
      });
      expect(line).toMatchObject({ level: 30, res: { statusCode: status } });
      expect(logs.records.filter((record) => record.level > PINO_WARN)).toEqual([]);
      expect(logs.text).not.toContain('unexpected failure');
    },
  );
});
