import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBufferStore } from '../src/events/event-buffer.store';
import { SessionStore } from '../src/session/session.store';
import { SubscriptionStore } from '../src/subscriptions/subscription.store';
import { ALICE, BOB, OSCAR, OSCAR_FIXED } from './support/fixtures';
import { eventually, http, openSession, publishAccepted, setupSession, TestSocket, useGateway, useGatewayProcess, useIssuer, useRedis, useSockets } from './support/harness';

/**
 * Sessions outlive the right to them no longer (SPEC section 3): a session
 * whose identity the directory no longer gives its owner, in its mode, is
 * ended at the handshake and, for open sockets, within
 * SESSION_RECHECK_INTERVAL_S; and every session ends SESSION_MAX_LIFETIME_S
 * after its setup.
 */

const REVOKED = { code: 4001, reason: 'session revoked: the identity is no longer allowed for this account' };
const UNKNOWN_TOKEN = 'the webSocketToken is unknown, revoked or expired';

type Entry = { sub: string; identities: string[]; fixedNumber?: string };
const SAMPLE: { users: Entry[] } = JSON.parse(readFileSync(join(__dirname, '../config/directory.json'), 'utf8'));

/** A copy of the sample directory that a test changes, as an operator edits DIRECTORY_FILE. */
class DirectoryFile {
  readonly path = join(mkdtempSync(join(tmpdir(), 'vora-directory-')), 'directory.json');

  constructor() {
    this.reset();
  }

  reset(): void {
    this.write(SAMPLE.users);
  }

  /** Gives `number` to `to` instead of `from`. */
  move(number: string, from: string, to: string): void {
    this.change((entry) => {
      if (entry.sub === from) return { ...entry, identities: entry.identities.filter((n) => n !== number) };
      if (entry.sub === to) return { ...entry, identities: [...entry.identities, number] };
      return entry;
    });
  }

  change(edit: (entry: Entry) => Entry): void {
    this.write(SAMPLE.users.map((entry) => edit({ ...entry })));
  }

  private write(users: Entry[]): void {
    writeFileSync(this.path, JSON.stringify({ users }));
  }
}

/** What an operator sends the gateway after editing the file; jest gives each test file a process object of its own. */
const hangUp = () => process.emit('SIGHUP');

const stores: Array<['memory' | 'redis']> = [['memory'], ['redis']];

describe.each(stores)('sessions whose identity left their owner (%s)', (store) => {
  const directory = new DirectoryFile();
  const redis = store === 'redis' ? useRedis() : undefined;
  const { issuer, gateway } = useGateway(() => ({
    DIRECTORY_FILE: directory.path,
    SESSION_RECHECK_INTERVAL_S: '1',
    ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
  }));
  let platform: string;
  const { sockets, track } = useSockets();
  const user = (sub: string, scope = 'vora:user') => issuer.sign({ sub, scope });

  beforeAll(async () => {
    platform = await issuer.sign({ sub: 'core', scope: 'vora:events:publish' });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    directory.reset();
    hangUp();
    const sessions = gateway.app.get(SessionStore);
    for (const sub of ['alice', 'bob', 'oscar']) for (const session of await sessions.listByUser(sub)) await sessions.remove(session.id);
  });

  it('closes the old owner’s open socket with 4001 when its number moves, refuses its token, and ends its session', async () => {
    const alice = await openSession(gateway, await user('alice'), { identity: ALICE });
    const sessionId = alice.welcome.sessionId;
    await publishAccepted(gateway, platform, { event: 'CallHeld', identity: ALICE, data: { seq: 1 } });
    expect(await alice.socket.nextEvent()).toMatchObject({ id: '1' });

    directory.move(ALICE, 'alice', 'bob');
    hangUp();
    expect(await alice.socket.closed()).toEqual(REVOKED);
    const refusal = await TestSocket.refused(gateway, { token: alice.token });
    expect(refusal.status).toBe(401);
    expect(refusal.body).toMatchObject({ status: '401', message: UNKNOWN_TOKEN });
    // Ended like a logout: the subscription went before the socket was told, the session and its buffer right after.
    expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toBeUndefined();
    await eventually(async () => (await gateway.app.get(SessionStore).listByUser('alice')).every((session) => session.id !== sessionId), { timeoutMs: 5_000, what: 'the session to go' });
    const buffer = gateway.app.get(EventBufferStore);
    await eventually(async () => (await buffer.readAfter(sessionId, 0)).newestId === 0, { timeoutMs: 5_000, what: 'the buffer to go' });

    // The number's calls now reach its new owner, and only them.
    const bob = track(await openSession(gateway, await user('bob'), { identity: ALICE }));
    await publishAccepted(gateway, platform, { event: 'CallDelivered', identity: ALICE, data: { callId: 'c-1', direction: 'terminating' } });
    expect(await bob.socket.nextEvent()).toMatchObject({ id: '1', event: 'CallDelivered', identity: ALICE });
    expect(await gateway.app.get(SessionStore).listByIdentities([ALICE])).toEqual([[expect.objectContaining({ sub: 'bob' })]]);
  });

  it('refuses at the handshake, with 401, the token of a session whose number moved while it had no socket', async () => {
    const token = await setupSession(gateway, await user('alice'), { identity: ALICE, connectionType: 'MOBILE' });
    const [session] = await gateway.app.get(SessionStore).listByUser('alice');
    directory.move(ALICE, 'alice', 'bob');
    hangUp();
    const refusal = await TestSocket.refused(gateway, { token });
    expect(refusal.status).toBe(401);
    expect(refusal.headers['www-authenticate']).toBe('Bearer realm="vora"');
    expect(refusal.body).toEqual({ timestamp: expect.any(String), status: '401', error: 'Unauthorized', message: UNKNOWN_TOKEN });
    expect(await gateway.app.get(SessionStore).remove(session.id)).toBeUndefined();
    expect(await gateway.app.get(SubscriptionStore).get('alice', ALICE)).toBeUndefined();
  });

  it('ends an OTT session whose fixed number changed, and keeps a user-mode session of the same number', async () => {
    const ott = await openSession(gateway, await user('oscar', 'vora:ott'), { identity: OSCAR_FIXED, connectionType: 'MOBILE' });
    const asUser = track(await openSession(gateway, await user('oscar'), { identity: OSCAR_FIXED, connectionType: 'WEB' }));
    directory.change((entry) => (entry.sub === 'oscar' ? { ...entry, fixedNumber: OSCAR } : entry));
    hangUp();
    expect(await ott.socket.closed()).toEqual(REVOKED);
    expect((await TestSocket.refused(gateway, { token: ott.token })).status).toBe(401);
    // The user-mode session goes on, with the subscription the two shared: the next event is its next one.
    await publishAccepted(gateway, platform, { event: 'VoicemailWaiting', identity: OSCAR_FIXED, data: { count: 1 } });
    expect(await asUser.socket.nextEvent()).toMatchObject({ id: '1', event: 'VoicemailWaiting' });
    expect(await gateway.app.get(SubscriptionStore).get('oscar', OSCAR_FIXED)).toBeDefined();
  });
});

describe('moving a number on a running gateway process', () => {
  const directory = new DirectoryFile();
  const issuer = useIssuer();
  const gateway = useGatewayProcess(() => ({ DIRECTORY_FILE: directory.path, SESSION_RECHECK_INTERVAL_S: '1' }), { issuer, signal: 'SIGTERM' });

  it('takes effect on SIGHUP: the old owner’s socket closes with 4001 and its token is refused', async () => {
    const alice = await issuer.sign({ sub: 'alice', scope: 'vora:user' });
    const setup = await http(`${gateway.url}/identity/setup`, { token: alice, body: { connectionType: 'WEB', identity: ALICE } });
    expect(setup.status).toBe(200);
    const token = setup.body.webSocketToken;
    const { socket } = await TestSocket.connect(gateway.wsUrl, { token });
    directory.move(ALICE, 'alice', 'bob');
    gateway.child.kill('SIGHUP');
    expect(await socket.closed()).toEqual(REVOKED);
    expect((await TestSocket.refused(gateway.wsUrl, { token })).status).toBe(401);
    expect(gateway.output.join('')).toContain(`DIRECTORY_FILE ${directory.path} reloaded`);
    // Still up: the signal reloaded the file rather than ending the process.
    expect((await http(`${gateway.url}/health/liveness`)).status).toBe(204);
  });
});

describe.each(stores)('the session lifetime, SESSION_MAX_LIFETIME_S=3 (%s)', (store) => {
  const redis = store === 'redis' ? useRedis() : undefined;
  const { issuer, gateway } = useGateway(() => ({
    SESSION_MAX_LIFETIME_S: '3',
    SESSION_IDLE_TTL_S: '3600',
    HEARTBEAT_INTERVAL_MS: '1000',
    ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
  }));

  it('says in the welcome when the session ends, closes its socket with 4001 then, and refuses its token after it', async () => {
    const before = Date.now();
    const { socket, welcome, token } = await openSession(gateway, await issuer.sign({ sub: 'alice', scope: 'vora:user' }), { identity: ALICE });
    const after = Date.now();
    const endsAt = Date.parse(welcome.expiresAt);
    expect(new Date(endsAt).toISOString()).toBe(welcome.expiresAt);
    expect(endsAt).toBeGreaterThanOrEqual(before + 3_000);
    expect(endsAt).toBeLessThanOrEqual(after + 3_000);

    expect(await socket.closed(10_000)).toEqual({ code: 4001, reason: 'session expired' });
    // Not before its time: the socket was kept open by its heartbeats until then.
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt);
    const refusal = await TestSocket.refused(gateway, { token });
    expect(refusal.status).toBe(401);
    expect(refusal.body).toMatchObject({ status: '401', message: UNKNOWN_TOKEN });
    expect(await gateway.app.get(SessionStore).remove(welcome.sessionId)).toBeUndefined();
  });

  it('refuses the token of a session without a socket once its lifetime is over, though its idle TTL is not', async () => {
    const token = await setupSession(gateway, await issuer.sign({ sub: 'bob', scope: 'vora:user' }), { identity: BOB });
    const { socket, welcome } = await TestSocket.connect(gateway, { token });
    await socket.close();
    const endsAt = Date.parse(welcome.expiresAt);
    await eventually(() => Date.now() > endsAt, { timeoutMs: 10_000, what: 'the end of the session’s lifetime' });
    const refusal = await TestSocket.refused(gateway, { token });
    expect(refusal.status).toBe(401);
    expect(refusal.body).toMatchObject({ status: '401', message: UNKNOWN_TOKEN });
  });
});
