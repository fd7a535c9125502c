import { ConfigError } from './load-config';

/**
 * A listener that could not bind, said as what to change (PORT, HOST,
 * METRICS_PORT). Other errors are returned as they are: they are bugs.
 */
export function listenFailure(error: unknown, variable: 'PORT' | 'METRICS_PORT', host: string, port: number): unknown {
  switch ((error as NodeJS.ErrnoException)?.code) {
    case 'EADDRINUSE':
      return new ConfigError([
        `port ${port} on ${host} is already taken by another process: set ${variable} to a free port (or stop that process)`,
      ]);
    case 'EACCES':
      return new ConfigError([`port ${port} on ${host} needs privileges this process does not have: set ${variable} to 1024 or above`]);
    case 'EADDRNOTAVAIL':
      return new ConfigError([`HOST ${host} is not an address of this machine: set HOST to one of its addresses (default 0.0.0.0)`]);
    default:
      return error;
  }
}

/** Where a client reaches a listener: a wildcard bind is reached at localhost. */
export function reachableUrl(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const name = wildcard ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}
