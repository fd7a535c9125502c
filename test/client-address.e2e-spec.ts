import { ALICE, BOB, CAROL } from './support/fixtures';
import { eventually, http, LogCapture, Refusal, RunningGateway, setupSession, startGateway, TestSocket, useIssuer } from './support/harness';

function expectAddressCap(refusal: Refusal): void {
  expect(refusal.status).toBe(429);
  expect(refusal.body).toEqual({
    timestamp: expect.any(String),
    status: '429',
    error: 'Too Many Requests',
    message: 'this client address already holds 1 sockets on this gateway; close one before opening another',
  });
}

/**
 * The client's address behind a proxy (SPEC section 8): the per-address
 * socket cap and the access log use X-Forwarded-For only when the TCP peer
 * (here 127.0.0.1) is trusted through TRUST_PROXY.
 */
describe('client address (TRUST_PROXY)', () => {
  const issuer = useIssuer();
  let gateway: RunningGateway;
  const logs = new LogCapture();
  const sockets: TestSocket[] = [];

  const setup = async (sub: string, identity: string) => setupSession(gateway, await issuer.sign({ sub, scope: 'vora:user' }), { identity });
  const open = async (token: string, forwardedFor?: string) => {
    const headers = forwardedFor === undefined ? undefined : { 'x-forwarded-for': forwardedFor };
    const { socket } = await TestSocket.connect(gateway, { token, headers });
    sockets.push(socket);
    return socket;
  };
  const refused = (token: string, forwardedFor: string) => TestSocket.refused(gateway, { token, headers: { 'x-forwarded-for': forwardedFor } });
  const loggedAddress = async (requestId: string, forwardedFor?: string) => {
    const headers: Record<string, string> = { 'x-request-id': requestId };
    if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
    await http(`${gateway.url}/identity`, { headers });
    // The access line is written once the answer has gone out: wait for it.
    const line = await eventually(() => {
      const found = logs.records.find((record) => record.req?.id === requestId && record.msg === 'request completed');
      if (!found) throw new Error(`no access line for ${requestId}`);
      return found;
    });
    return line.req.remoteAddress;
  };

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    await gateway.close();
  });

  it('behind a trusted proxy, caps each forwarded client on its own and logs the forwarded address', async () => {
    gateway = await startGateway({ ...issuer.env(), TRUST_PROXY: '127.0.0.1', MAX_SOCKETS_PER_IP: '1' }, { logStream: logs });
    // Two clients behind the same proxy: each has its own cap of one socket.
    await open(await setup('alice', ALICE), '203.0.113.7');
    await open(await setup('bob', BOB), '203.0.113.8');
    // The first client's second socket is over its cap, even though a forged entry is put in front.
    const carol = await setup('carol', CAROL);
    expectAddressCap(await refused(carol, '198.51.100.99, 203.0.113.7'));
    expectAddressCap(await refused(carol, '203.0.113.8'));
    await open(carol, '203.0.113.9');

    expect(await loggedAddress('trusted-forwarded', '198.51.100.99, 203.0.113.7')).toBe('203.0.113.7');
    expect(await loggedAddress('trusted-direct')).toBe('127.0.0.1');
  });

  it('from an untrusted peer, a forged X-Forwarded-For changes nothing: the cap and the log are the peer', async () => {
    gateway = await startGateway({ ...issuer.env(), TRUST_PROXY: '10.0.0.0/8, fd00::/8', MAX_SOCKETS_PER_IP: '1' }, { logStream: logs });
    await open(await setup('alice', ALICE), '203.0.113.7');
    const bob = await setup('bob', BOB);
    expect((await refused(bob, '203.0.113.8')).body.message).toBe(
      'this client address already holds 1 sockets on this gateway; close one before opening another',
    );
    expectAddressCap(await refused(bob, '10.0.0.1'));

    expect(await loggedAddress('untrusted-forged', '203.0.113.8')).toBe('127.0.0.1');
  });

  it('with no TRUST_PROXY, trusts no one', async () => {
    gateway = await startGateway({ ...issuer.env(), MAX_SOCKETS_PER_IP: '1' }, { logStream: logs });
    await open(await setup('alice', ALICE), '203.0.113.7');
    expectAddressCap(await refused(await setup('bob', BOB), '203.0.113.8'));
    expect(await loggedAddress('trust-nothing', '203.0.113.8')).toBe('127.0.0.1');
  });

  it('with a hop count, takes the address that many hops from the right', async () => {
    gateway = await startGateway({ ...issuer.env(), TRUST_PROXY: '2', MAX_SOCKETS_PER_IP: '1' }, { logStream: logs });
    // Client, then an edge proxy that appended the client, then the peer (the second proxy).
    await open(await setup('alice', ALICE), '203.0.113.7, 192.0.2.10');
    await open(await setup('bob', BOB), '203.0.113.8, 192.0.2.10');
    // The same client through another edge proxy is still the same client.
    expectAddressCap(await refused(await setup('carol', CAROL), '203.0.113.7, 192.0.2.11'));

    expect(await loggedAddress('two-hops', '198.51.100.99, 203.0.113.7, 192.0.2.10')).toBe('203.0.113.7');
    // Fewer entries than hops: the leftmost is the nearest client there is.
    expect(await loggedAddress('short-chain', '203.0.113.7')).toBe('203.0.113.7');
  });
});
