import { BACKOFF, HEARTBEAT_GRACE_MS } from './backoff';
import { VoraCloseError } from './errors';
import { CLOSE_RULES, WelcomeMessage } from './protocol';
import { VoraSession } from './session';
import type { FetchLike, WebSocketLike } from './transport';

/**
 * The session's timing and close-code rules, on a scripted socket and fake
 * timers: what a wall clock could only show slowly and loosely. The same
 * behaviour against the real gateway is in test/client.e2e-spec.ts.
 */
class FakeSocket implements WebSocketLike {
  static opened: FakeSocket[] = [];
  readyState = 0;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  readonly sent: string[] = [];
  closedWith?: { code?: number; reason?: string };

  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
  }

  static get last(): FakeSocket {
    return FakeSocket.opened[FakeSocket.opened.length - 1];
  }

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  welcome(overrides: Partial<WelcomeMessage> = {}): void {
    this.readyState = 1;
    this.onopen?.({});
    this.receive({ ...WELCOME, ...overrides });
  }

  receive(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
}

const WELCOME: WelcomeMessage = {
  type: 'welcome',
  sessionId: 's-1',
  identity: '+905321110001',
  mode: 'user',
  subscription: { subscribeAll: true, events: ['CallDelivered'] },
  heartbeatIntervalMs: 25_000,
  lastEventId: '0',
  recovered: true,
};

const event = (id: number) => ({ type: 'event', id: String(id), event: 'CallDelivered', identity: WELCOME.identity, timestamp: '2026-11-28T10:15:30.120Z', data: {} });

/** A REST API that is down unless told otherwise; records what was asked. */
function fakeFetch(answers: Record<string, unknown> = {}) {
  const calls: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    const key = `${init.method} ${new URL(url).pathname}`;
    calls.push(key);
    if (!(key in answers)) throw new Error('connect ECONNREFUSED');
    return { status: 200, ok: true, text: async () => JSON.stringify(answers[key]) };
  };
  return { fetch, calls };
}

function resume(options: { accessToken?: string; fetch?: FetchLike } = {}) {
  const session = VoraSession.resume({
    baseUrl: 'http://gateway.test',
    webSocketToken: 'token-1',
    WebSocket: FakeSocket,
    fetch: options.fetch ?? fakeFetch().fetch,
    accessToken: options.accessToken,
  });
  const errors: unknown[] = [];
  session.on('error', (error) => errors.push(error));
  return { session, errors };
}

/** Runs timers and the promise jobs they start, up to `ms` from now. */
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

describe('VoraSession timing and close codes', () => {
  let random: jest.SpyInstance;
  beforeEach(() => {
    jest.useFakeTimers();
    FakeSocket.opened = [];
    random = jest.spyOn(Math, 'random').mockReturnValue(1);
  });
  afterEach(() => {
    jest.useRealTimers();
    random.mockRestore();
  });

  /** Fails the current connection attempt and returns how long the next one waited. */
  async function nextDelay(fail: () => void): Promise<number> {
    const before = FakeSocket.opened.length;
    fail();
    await advance(0);
    let waited = 0;
    while (FakeSocket.opened.length === before) {
      await advance(1);
      waited++;
      if (waited > BACKOFF.maxMs) throw new Error('no reconnect within the longest backoff');
    }
    return waited;
  }

  it('backs off exponentially from 0.5 s to at most 20 s', async () => {
    const { session } = resume();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) delays.push(await nextDelay(() => FakeSocket.last.drop(1006)));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
    expect(session.state).toBe('reconnecting');
    session.close();
  });

  it('draws each delay uniformly up to its cap (full jitter)', async () => {
    const { session } = resume();
    random.mockReturnValue(0.25);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) delays.push(await nextDelay(() => FakeSocket.last.drop(1006)));
    expect(delays).toEqual([125, 250, 500, 1000]);
    session.close();
  });

  it('starts again from 0.5 s after a connection that stayed up a minute, not before', async () => {
    const { session } = resume();
    for (let i = 0; i < 4; i++) await nextDelay(() => FakeSocket.last.drop(1006));
    FakeSocket.last.welcome();
    // Heard from within every heartbeat: only the stability clock runs.
    for (const step of [20_000, 20_000, 19_000]) {
      await advance(step);
      FakeSocket.last.receive({ type: 'pong' });
    }
    expect(await nextDelay(() => FakeSocket.last.drop(1006))).toBe(8000);
    FakeSocket.last.welcome();
    for (const step of [20_000, 20_000, 20_000]) {
      await advance(step);
      FakeSocket.last.receive({ type: 'pong' });
    }
    expect(await nextDelay(() => FakeSocket.last.drop(1006))).toBe(500);
    session.close();
  });

  it('reconnects at once when the browser comes back online', async () => {
    const target = new EventTarget();
    const host = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
    host.addEventListener = target.addEventListener.bind(target);
    host.removeEventListener = target.removeEventListener.bind(target);
    try {
      const { session } = resume();
      for (let i = 0; i < 6; i++) await nextDelay(() => FakeSocket.last.drop(1006));
      FakeSocket.last.drop(1006);
      await advance(0);
      const before = FakeSocket.opened.length;
      target.dispatchEvent(new Event('online'));
      expect(FakeSocket.opened.length).toBe(before + 1);
      session.close();
    } finally {
      delete host.addEventListener;
      delete host.removeEventListener;
    }
  });

  it('pings when quiet, and reconnects when nothing was heard for the heartbeat interval plus 10 s', async () => {
    const { session } = resume();
    const socket = FakeSocket.last;
    socket.welcome({ heartbeatIntervalMs: 1_000 });
    await advance(1_000);
    expect(socket.sent).toEqual(['{"type":"ping"}']);
    socket.receive({ type: 'pong' });
    await advance(1_000 + HEARTBEAT_GRACE_MS - 1);
    expect(socket.closedWith).toBeUndefined();
    await advance(1);
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'no heartbeat' });
    expect(session.state).toBe('reconnecting');
    await advance(BACKOFF.firstMs);
    expect(FakeSocket.opened).toHaveLength(2);
    session.close();
  });

  it('resumes with the newest id handed to listeners, and drops what it already handed out', async () => {
    const { session } = resume();
    const ids: string[] = [];
    session.on('event', (e) => ids.push(e.id));
    FakeSocket.last.welcome();
    [1, 2, 3].forEach((id) => FakeSocket.last.receive(event(id)));
    await nextDelay(() => FakeSocket.last.drop(1006));
    expect(FakeSocket.last.query.get('lastEventId')).toBe('3');
    expect(FakeSocket.last.query.get('token')).toBe('token-1');
    FakeSocket.last.welcome({ lastEventId: '4' });
    [3, 4].forEach((id) => FakeSocket.last.receive(event(id)));
    expect(ids).toEqual(['1', '2', '3', '4']);
    session.close();
  });

  const codes = [...Object.keys(CLOSE_RULES).map(Number), 4999];
  it.each(codes)('follows the rule for close code %i', async (code) => {
    const { fetch, calls } = fakeFetch({ 'POST /identity/setup': { webSocketToken: 'token-2' } });
    const { session, errors } = resume({ accessToken: 'access', fetch });
    FakeSocket.last.welcome();
    FakeSocket.last.receive(event(1));
    const action = CLOSE_RULES[code]?.action ?? 'resume';
    FakeSocket.last.drop(code, 'why');
    await advance(BACKOFF.firstMs);
    switch (action) {
      case 'stop':
        expect(session.state).toBe('closed');
        expect(FakeSocket.opened).toHaveLength(1);
        expect(errors).toEqual([expect.any(VoraCloseError)]);
        expect(errors[0]).toMatchObject({ code, reason: 'why' });
        break;
      case 'new-session':
        expect(calls).toEqual(['POST /identity/setup']);
        expect(FakeSocket.opened).toHaveLength(2);
        expect(FakeSocket.last.query.get('token')).toBe('token-2');
        expect(FakeSocket.last.query.get('lastEventId')).toBe('0');
        expect(errors).toEqual([]);
        break;
      case 'fix-client':
      case 'resume':
        expect(FakeSocket.opened).toHaveLength(2);
        expect(FakeSocket.last.query.get('token')).toBe('token-1');
        expect(FakeSocket.last.query.get('lastEventId')).toBe('1');
        expect(errors).toEqual(action === 'fix-client' ? [expect.objectContaining({ code })] : []);
        break;
    }
    session.close();
  });

  it('takes a handshake refused twice while the REST API answers (all a browser can see) as a revoked token', async () => {
    const { fetch, calls } = fakeFetch({ 'OPTIONS /identity': {} });
    const { session, errors } = resume({ fetch });
    await nextDelay(() => FakeSocket.last.drop(1006));
    FakeSocket.last.drop(1006);
    await advance(0);
    expect(calls).toEqual(['OPTIONS /identity', 'OPTIONS /identity']);
    expect(session.state).toBe('closed');
    expect(errors).toEqual([expect.objectContaining({ code: 4001 })]);
  });
});
