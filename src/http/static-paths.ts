import { posix } from 'node:path';

/**
 * File paths under a static prefix (Swagger UI's `/docs/`) that name no file:
 * a NUL byte (400), or a path that is not canonical once decoded, such as an
 * encoded `../` (`%2e%2e%2f`), `./`, `//` or a backslash (404, as for any
 * path nothing is served at). The edge refuses them with this status and
 * message before @fastify/static, which would answer them with errors the
 * gateway could only report as its own failures.
 */
export function unservablePath(method: string, url: string, prefix: string): [status: number, message: string] | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const path = url.split('?')[0];
  const problem = problemOf(path);
  if (!problem) return undefined;
  return problem === 'nul' ? [400, `the file path of ${method} ${path} holds a NUL byte`] : [404, `no operation at ${method} ${path}`];
}

function problemOf(path: string): 'nul' | 'not canonical' | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Bad percent-encoding: the router answers it before any hook, so this is only a guard.
    return 'not canonical';
  }
  if (decoded.includes('\0')) return 'nul';
  if (decoded.includes('\\') || posix.normalize(decoded) !== decoded) return 'not canonical';
  return undefined;
}
