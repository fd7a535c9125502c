import { VoraNetworkError, VoraRequestError, VoraUsageError, ResponseStatusVoraError } from './errors.js';

/** What the library needs of a WebSocket: the browser's, `ws`, or any implementation of the standard interface. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** What the library needs of `fetch`: the browser's, Node 20's, or any compatible one. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; ok: boolean; text(): Promise<string> }>;

/** An access token, or a function giving a fresh one (called before every REST call). */
export type AccessTokenSource = string | (() => string | Promise<string>);

/** Where the library reports what it does; silent unless given (e.g. `logger: console`). */
export interface VoraLogger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

export interface TransportOptions {
  baseUrl: string;
  WebSocket?: WebSocketConstructor;
  fetch?: FetchLike;
  logger?: VoraLogger;
}

const OPEN = 1;

/** The gateway's REST API and socket URL, with the injected or global implementations. */
export class Transport {
  readonly baseUrl: string;
  readonly logger: VoraLogger;
  private readonly fetchImpl?: FetchLike;
  private readonly WebSocketImpl?: WebSocketConstructor;

  constructor(options: TransportOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) throw new VoraUsageError(`baseUrl must be an http(s) URL, got ${options.baseUrl}`);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.logger = options.logger ?? {};
    const global = globalThis as { fetch?: FetchLike; WebSocket?: WebSocketConstructor };
    this.fetchImpl = options.fetch ?? (global.fetch ? global.fetch.bind(globalThis) : undefined);
    this.WebSocketImpl = options.WebSocket ?? global.WebSocket;
  }

  socketUrl(token: string, lastEventId: string): string {
    const query = `token=${encodeURIComponent(token)}&lastEventId=${lastEventId}`;
    return `${this.baseUrl.replace(/^http/, 'ws')}/ws?${query}`;
  }

  openSocket(url: string): WebSocketLike {
    if (!this.WebSocketImpl) {
      throw new VoraUsageError('no WebSocket implementation: pass one, e.g. `WebSocket` from the ws package in Node');
    }
    return new this.WebSocketImpl(url);
  }

  isOpen(socket: WebSocketLike | undefined): boolean {
    return socket?.readyState === OPEN;
  }

  /** A REST call; answers the parsed JSON body, or throws VoraRequestError with the gateway's error body. */
  async request<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
    if (!this.fetchImpl) throw new VoraUsageError('no fetch implementation: pass one, or use Node 20 or a browser');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Awaited<ReturnType<FetchLike>>;
    let text: string;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      text = await response.text();
    } catch (error) {
      throw new VoraNetworkError(`${method} ${path} could not reach the gateway: ${(error as Error)?.message ?? error}`, error);
    }
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) throw new VoraRequestError(response.status, errorBody(response.status, parsed, text));
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The gateway's error body; a proxy in front of it may answer with something else, which is wrapped in the same shape. */
function errorBody(status: number, parsed: unknown, text: string): ResponseStatusVoraError {
  const body = parsed as Partial<ResponseStatusVoraError> | undefined;
  if (body && typeof body.message === 'string' && typeof body.status === 'string') return body as ResponseStatusVoraError;
  return { timestamp: new Date().toISOString(), status: String(status), error: 'Unexpected answer', message: text.slice(0, 200) || `HTTP ${status}` };
}

export async function tokenFrom(source: AccessTokenSource | undefined, what: string): Promise<string> {
  if (source === undefined) throw new VoraUsageError(`${what} needs an access token: pass accessToken`);
  return typeof source === 'string' ? source : await source();
}
