import type { Server } from 'node:http';
import { Logger } from '@nestjs/common';

/** How often refused connections are reported: a flood must not become a flood of log lines. */
const REPORT_EVERY_MS = 60_000;

/**
 * MAX_CONNECTIONS: open TCP connections (HTTP keep-alive and WebSockets
 * alike) one instance holds. Node closes a connection past the cap as soon
 * as it is accepted, before it costs a request or a socket, and the load
 * balancer's next try lands elsewhere. Refusals are logged, at most once a minute.
 */
export function capConnections(server: Server, maxConnections: number): void {
  const log = new Logger('Connections');
  let refused = 0;
  let reportAt = 0;
  server.maxConnections = maxConnections;
  server.on('drop', () => {
    refused++;
    const now = Date.now();
    if (now < reportAt) return;
    log.warn(`refused ${refused} connection(s): this instance holds MAX_CONNECTIONS (${maxConnections}) already`);
    refused = 0;
    reportAt = now + REPORT_EVERY_MS;
  });
}
