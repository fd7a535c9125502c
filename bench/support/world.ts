import { BenchUser, writeDirectory } from './directory';
import { httpRequest, mapLimit } from './http';
import { BenchIssuer } from './issuer';
import { options } from './options';
import { ServerProcess } from './processes';
import type { SocketTarget } from './ws-clients';

export interface GatewayWorldOptions {
  /** Gateway processes sharing the store (1 for STORE=memory). */
  instances?: number;
  env?: Record<string, string>;
}

/**
 * Everything a gateway benchmark needs: an RS256 issuer on loopback, a
 * generated directory, the gateway process(es) trusting both, and tokens.
 */
export class GatewayWorld {
  private readonly tokens = new Map<string, Promise<string>>();
  platformToken = '';

  private constructor(
    readonly issuer: BenchIssuer,
    readonly users: BenchUser[],
    readonly directoryFile: string,
  ) {}

  gateways: ServerProcess[] = [];

  static async create(): Promise<GatewayWorld> {
    const issuer = await BenchIssuer.start();
    const { file, users } = writeDirectory(options.directory.users, options.directory.identitiesPerUser);
    const world = new GatewayWorld(issuer, users, file);
    world.platformToken = await issuer.sign('bench-platform', 'vora:events:publish');
    return world;
  }

  /** Every identity of the directory, in order (user 0's first). */
  get identities(): string[] {
    return this.users.flatMap((u) => u.identities);
  }

  /** Environment of a gateway in this world. */
  gatewayEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...this.issuer.env(),
      DIRECTORY_FILE: this.directoryFile,
      // Each user opens one session per identity it owns.
      MAX_SESSIONS_PER_USER: String(Math.max(10, options.directory.identitiesPerUser)),
      // Every client runs on loopback, and the benchmarks measure throughput, not the limits.
      RATE_LIMIT_PER_MINUTE: '1000000000',
      INGRESS_RATE_LIMIT_PER_MINUTE: '1000000000',
      MAX_SOCKETS_PER_USER: '1000000',
      MAX_SOCKETS_PER_IP: '1000000',
      MAX_FAILED_HANDSHAKES_PER_IP: '1000000',
      // No access log line per request unless asked: bench/rest.ts measures what LOG_LEVEL=info costs separately.
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      // The gateway's own default (1000 events per session) unless asked: what the resume buffer costs, measured.
      ...(process.env.BENCH_EVENT_BUFFER_SIZE ? { EVENT_BUFFER_SIZE: process.env.BENCH_EVENT_BUFFER_SIZE } : {}),
      ...extra,
    };
  }

  async startGateways(name: string, count: number, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServerProcess[]> {
    this.gateways = [];
    for (let i = 0; i < count; i++) {
      this.gateways.push(await ServerProcess.gateway(count > 1 ? `${name}-${i + 1}` : name, this.gatewayEnv(env), nodeArgs));
    }
    return this.gateways;
  }

  async stopGateways(): Promise<void> {
    await Promise.all(this.gateways.map((g) => g.stop()));
    this.gateways = [];
  }

  /**
   * The RS256 access token of a user (signed once, then reused: a client keeps
   * its token). The promise is kept, so that the concurrent setups of one
   * user's two identities share one token instead of signing one each.
   */
  tokenOf(sub: string): Promise<string> {
    let token = this.tokens.get(sub);
    if (!token) this.tokens.set(sub, (token = this.issuer.sign(sub, 'vora:user')));
    return token;
  }

  /** Signs the tokens of the first `count` users ahead of a measurement. */
  async signTokens(count: number): Promise<string[]> {
    return mapLimit(this.users.slice(0, count), 8, (user) => this.tokenOf(user.sub));
  }

  /**
   * Opens `count` sessions (POST /identity/setup, one per identity, WEB) and
   * returns their socket targets; sessions alternate between the gateways.
   */
  async setupSessions(count: number, from = 0): Promise<SocketTarget[]> {
    if (from + count > this.identities.length) throw new Error(`the directory holds ${this.identities.length} identities, ${from + count} asked`);
    const owners = this.users.flatMap((u) => u.identities.map((identity) => ({ sub: u.sub, identity })));
    return mapLimit(owners.slice(from, from + count), 32, async ({ sub, identity }, index) => {
      const gateway = this.gateways[index % this.gateways.length];
      const response = await httpRequest('POST', `${gateway.url}/identity/setup`, JSON.stringify({ connectionType: 'WEB', identity }), {
        authorization: `Bearer ${await this.tokenOf(sub)}`,
      });
      if (response.status !== 200) throw new Error(`setup of ${identity} answered ${response.status}: ${response.body}`);
      const { webSocketToken } = JSON.parse(response.body) as { webSocketToken: string };
      return { identity, url: `${gateway.wsUrl}/ws?token=${webSocketToken}` };
    });
  }

  async close(): Promise<void> {
    await this.stopGateways();
    await this.issuer.close();
  }
}

/** Socket targets on the raw baseline: it knows sockets by identity, no token. */
export function baselineTargets(server: ServerProcess, identities: readonly string[]): SocketTarget[] {
  return identities.map((identity) => ({ identity, url: `${server.wsUrl}/ws?identity=${encodeURIComponent(identity)}` }));
}
