import { LimitsConfig } from '../config/gateway-config';
import { SocketCaps } from './socket-caps';

const LIMITS: LimitsConfig = { ratePerMinute: 600, ingressRatePerMinute: 60_000, maxSocketsPerUser: 2, maxSocketsPerIp: 3 };

describe('SocketCaps', () => {
  let caps: SocketCaps;
  beforeEach(() => (caps = new SocketCaps(LIMITS)));

  const admitted = (sessionId: string, sub: string, ip = '10.0.0.1') => {
    const admission = caps.admit(sessionId, sub, ip);
    if (!admission.admitted) throw new Error(`refused: ${admission.cap}`);
    return admission.release;
  };

  it('refuses a user a socket for one more session than MAX_SOCKETS_PER_USER', () => {
    admitted('s1', 'alice');
    admitted('s2', 'alice');
    expect(caps.admit('s3', 'alice', '10.0.0.1')).toEqual({ admitted: false, cap: 'user', limit: 2 });
    expect(caps.admit('s4', 'bob', '10.0.0.1').admitted).toBe(true);
  });

  it('does not count a socket replacing its session twice', () => {
    admitted('s1', 'alice');
    admitted('s2', 'alice');
    const replacement = admitted('s1', 'alice');
    // The old socket of s1 closes; the replacement still holds the session's place.
    replacement();
    expect(caps.admit('s3', 'alice', '10.0.0.1').admitted).toBe(false);
  });

  it('frees a place when a socket is released, once however often release is called', () => {
    const first = admitted('s1', 'alice');
    admitted('s2', 'alice');
    first();
    first();
    admitted('s3', 'alice');
    expect(caps.admit('s4', 'alice', '10.0.0.1').admitted).toBe(false);
  });

  it('refuses a client address one more socket than MAX_SOCKETS_PER_IP, across users', () => {
    admitted('a1', 'alice');
    admitted('b1', 'bob');
    admitted('c1', 'carol');
    expect(caps.admit('d1', 'dave', '10.0.0.1')).toEqual({ admitted: false, cap: 'ip', limit: 3 });
    expect(caps.admit('d1', 'dave', '10.0.0.2').admitted).toBe(true);
  });

  it('leaves no empty entries behind', () => {
    admitted('s1', 'alice')();
    const { byUser, byIp } = caps as unknown as { byUser: Map<string, unknown>; byIp: Map<string, unknown> };
    expect(byUser.size + byIp.size).toBe(0);
  });
});
