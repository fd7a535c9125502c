import WebSocket from 'ws';
import { http, RunningGateway } from './gateway';

export interface SocketOptions {
  token?: string;
  /** Send the token as Authorization: Bearer instead of ?token=. */
  tokenInHeader?: boolean;
  lastEventId?: string | number;
  headers?: Record<string, string>;
  query?: string;
}

export interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

const DEFAULT_WAIT_MS = 5_000;

/**
 * A real `ws` client that queues what it receives, so tests wait for
 * messages with time-bounded helpers instead of sleeping.
 */
export class TestSocket {
  readonly received: any[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  private closeInfo?: { code: number; reason: string };

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      let message: unknown = text;
      if (!isBinary) {
        try {
          message = JSON.parse(text);
        } catch {
          /* keep the text */
        }
      }
      this.received.push(message);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static url(gateway: RunningGateway | string, options: SocketOptions = {}): string {
    const base = typeof gateway === 'string' ? gateway : gateway.wsUrl;
    const params = new URLSearchParams();
    if (options.token && !options.tokenInHeader) params.set('token', options.token);
    if (options.lastEventId !== undefined) params.set('lastEventId', String(options.lastEventId));
    const query = [params.toString(), options.query].filter(Boolean).join('&');
    return `${base}/ws${query ? `?${query}` : ''}`;
  }

  private static headers(options: SocketOptions): Record<string, string> {
    const headers = { ...options.headers };
    if (options.token && options.tokenInHeader) headers.authorization = `Bearer ${options.token}`;
    return headers;
  }

  /** Opens a socket and resolves once the upgrade succeeded. */
  static open(gateway: RunningGateway | string, options: SocketOptions = {}): Promise<TestSocket> {
    const socket = new WebSocket(TestSocket.url(gateway, options), { headers: TestSocket.headers(options), perMessageDeflate: false });
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused with ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** Opens a socket and returns its welcome message too. */
  static async connect(gateway: RunningGateway | string, options: SocketOptions = {}): Promise<{ socket: TestSocket; welcome: any }> {
    const socket = await TestSocket.open(gateway, options);
    const welcome = await socket.next();
    if (welcome?.type !== 'welcome') throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
    return { socket, welcome };
  }

  /** Attempts an upgrade that must be refused; returns the HTTP answer. */
  static refused(gateway: RunningGateway | string, options: SocketOptions = {}): Promise<Refusal> {
    const socket = new WebSocket(TestSocket.url(gateway, options), { headers: TestSocket.headers(options) });
    return new Promise((resolve, reject) => {
      socket.once('open', () => {
        socket.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      socket.once('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* keep the text */
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
      });
      socket.once('error', () => undefined);
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message not yet consumed. */
  async next(timeoutMs = DEFAULT_WAIT_MS): Promise<any> {
    await this.until(() => this.cursor < this.received.length, timeoutMs, 'a message');
    return this.received[this.cursor++];
  }

  /** Consumes messages until `count` events arrived; returns the events. */
  async events(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<any[]> {
    const events: any[] = [];
    while (events.length < count) {
      const message = await this.next(timeoutMs);
      if (message?.type === 'event') events.push(message);
    }
    return events;
  }

  /** Consumes messages until one matches. */
  async nextMatching(predicate: (message: any) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<any> {
    for (;;) {
      const message = await this.next(timeoutMs);
      if (predicate(message)) return message;
    }
  }

  /** Resolves with the close code and reason once the server closed the socket. */
  async closed(timeoutMs = DEFAULT_WAIT_MS): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closeInfo !== undefined, timeoutMs, 'the socket to close');
    return this.closeInfo!;
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Unconsumed messages, without waiting. */
  pending(): any[] {
    return this.received.slice(this.cursor);
  }

  /** Stops reading from the TCP socket, like a client that hangs (slow consumer). */
  pauseReading(): void {
    (this.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  resumeReading(): void {
    (this.socket as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  /**
   * Opens a socket with extra `ws` client options (e.g. `autoPong: false` for a
   * client that never answers pings) and resolves once the upgrade succeeded.
   */
  static openWith(
    gateway: RunningGateway | string,
    options: SocketOptions,
    clientOptions: WebSocket.ClientOptions,
  ): Promise<TestSocket> {
    const socket = new WebSocket(TestSocket.url(gateway, options), {
      perMessageDeflate: false,
      ...clientOptions,
      headers: { ...TestSocket.headers(options), ...clientOptions.headers },
    });
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused with ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** The next message, which must be an event; fails on anything else. */
  async nextEvent(timeoutMs = DEFAULT_WAIT_MS): Promise<any> {
    const message = await this.next(timeoutMs);
    if (message?.type !== 'event') throw new Error(`expected an event, got ${JSON.stringify(message)}`);
    return message;
  }

  async close(): Promise<void> {
    if (this.closeInfo) return;
    this.socket.close();
    await this.closed().catch(() => this.socket.terminate());
  }

  private until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far: ${JSON.stringify(this.received.slice(-5))}`));
      }, timeoutMs);
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** POST /identity/setup; returns the webSocketToken. */
export async function setupSession(
  gateway: Pick<RunningGateway, 'url'>,
  accessToken: string,
  body: { identity: string; connectionType?: string; holdUpMode?: boolean },
): Promise<string> {
  const result = await http(`${gateway.url}/identity/setup`, {
    token: accessToken,
    body: { connectionType: 'WEB', ...body },
  });
  if (result.status !== 200) throw new Error(`setup failed: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body.webSocketToken;
}

/** POST /events as the platform; returns the HTTP result. */
export function publish(gateway: Pick<RunningGateway, 'url'>, platformToken: string, events: unknown) {
  return http(`${gateway.url}/events`, { token: platformToken, body: events });
}

/** POST /identity/setup, then GET /ws with the token; returns the token, the socket and its welcome. */
export async function openSession(
  gateway: RunningGateway,
  accessToken: string,
  body: { identity: string; connectionType?: string; holdUpMode?: boolean },
  options: Omit<SocketOptions, 'token'> = {},
): Promise<{ token: string; socket: TestSocket; welcome: any }> {
  const token = await setupSession(gateway, accessToken, body);
  const { socket, welcome } = await TestSocket.connect(gateway, { ...options, token });
  return { token, socket, welcome };
}

/** POST /events as the platform; fails unless the gateway answered 202 {"accepted": n}. */
export async function publishAccepted(gateway: RunningGateway, platformToken: string, events: unknown): Promise<void> {
  const result = await publish(gateway, platformToken, events);
  const count = Array.isArray(events) ? events.length : 1;
  if (result.status !== 202 || result.body?.accepted !== count) {
    throw new Error(`publish failed: ${result.status} ${JSON.stringify(result.body)}`);
  }
}
