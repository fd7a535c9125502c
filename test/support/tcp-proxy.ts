import { createConnection, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy on a free loopback port that a test controls: it can cut every
 * connection through it (the client sees 1006, as after a network drop),
 * or send new ones to another upstream (a reconnect that lands on another
 * instance).
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  /** Connections accepted so far: each reconnect is one more. */
  connections = 0;

  private constructor(
    private readonly server: Server,
    private upstreamPort: number,
  ) {}

  static async start(upstreamPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, upstreamPort);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections open now. */
  get open(): number {
    return this.pairs.size;
  }

  /** Later connections go to this upstream; open ones stay where they are. */
  setUpstream(port: number): void {
    this.upstreamPort = port;
  }

  /** Destroys every connection through the proxy, both ways, with no close frame. */
  cutAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    const upstream = createConnection({ host: '127.0.0.1', port: this.upstreamPort });
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
