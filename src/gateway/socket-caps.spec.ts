import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { LimitsConfig } from '../config/gateway-config';
import { SocketCaps } from './socket-caps';

const LIMITS: LimitsConfig = { ratePerMinute: 600, ingressRatePerMinute: 60_000, maxSocketsPerUser: 2, maxSocketsPerIp: 3, maxFailedHandshakesPerIp: 10 };

/** A TCP connection as the caps see it: it can be closed, and it says when. */
class FakeConnection extends EventEmitter {
  destroyed = false;
  close(): void {
    this.destroyed = true;
    this.emit('close', false);
  }
}

describe('SocketCaps', () => {
  let caps: SocketCaps;
  beforeEach(() => (caps = new SocketCaps(LIMITS)));

  const admit = (sessionId: string, sub: string, ip = '10.0.0.1', connection = new FakeConnection()) =>
    caps.admit(connection as unknown as Socket, sessionId, sub, ip);
  const admitted = (sessionId: string, sub: string, ip = '10.0.0.1') => {
    const connection = new FakeConnection();
    const refusal = admit(sessionId, sub, ip, connection);
    if (refusal) throw new Error(`refused: ${refusal.cap}`);
    return connection;
  };

  it('refuses a user a socket for one more session than MAX_SOCKETS_PER_USER', () => {
    admitted('s1', 'alice');
    admitted('s2', 'alice');
    expect(admit('s3', 'alice')).toEqual({ cap: 'user', limit: 2 });
    expect(admit('s4', 'bob')).toBeUndefined();
  });

  it('does not count a socket replacing its session twice', () => {
    admitted('s1', 'alice');
    admitted('s2', 'alice');
    const replacement = admitted('s1', 'alice');
    // The old socket of s1 closes; the replacement still holds the session's place.
    replacement.close();
    expect(admit('s3', 'alice')).toBeDefined();
  });

  it('frees a place when a connection closes, once however often it says so', () => {
    const first = admitted('s1', 'alice');
    admitted('s2', 'alice');
    first.close();
    first.close();
    admitted('s3', 'alice');
    expect(admit('s4', 'alice')).toBeDefined();
  });

  it('does not count a connection that closed before it was admitted', () => {
    const closed = new FakeConnection();
    closed.destroyed = true;
    expect(admit('s1', 'alice', '10.0.0.1', closed)).toBeUndefined();
    admitted('s2', 'alice');
    admitted('s3', 'alice');
  });

  it('refuses a client address one more socket than MAX_SOCKETS_PER_IP, across users', () => {
    admitted('a1', 'alice');
    admitted('b1', 'bob');
    admitted('c1', 'carol');
    expect(admit('d1', 'dave')).toEqual({ cap: 'ip', limit: 3 });
    expect(admit('d1', 'dave', '10.0.0.2')).toBeUndefined();
  });

  it('leaves no empty entries behind', () => {
    admitted('s1', 'alice').close();
    const counts = caps as unknown as Record<'socketsBySession' | 'sessionsByUser' | 'byIp', Map<string, unknown>>;
    expect(counts.socketsBySession.size + counts.sessionsByUser.size + counts.byIp.size).toBe(0);
  });
});
