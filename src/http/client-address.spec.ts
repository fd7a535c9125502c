import type { IncomingMessage } from 'node:http';
import { TrustProxy } from '../config/gateway-config';
import { ClientAddresses } from './client-address';

const request = (peer: string | undefined, forwardedFor?: string | string[]): IncomingMessage =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

const ranges = (...list: string[]): TrustProxy => ({ kind: 'ranges', ranges: list });

describe('ClientAddresses', () => {
  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const addresses = new ClientAddresses({ kind: 'none' });
    expect(addresses.of(request('10.0.0.5', '203.0.113.7'))).toBe('10.0.0.5');
    expect(addresses.of(request('::ffff:10.0.0.5'))).toBe('10.0.0.5');
    expect(addresses.of(request(undefined))).toBe('unknown');
  });

  it('takes the rightmost address no trusted proxy wrote, from a list of addresses and CIDRs', () => {
    const addresses = new ClientAddresses(ranges('10.0.0.0/8', '192.0.2.1'));
    expect(addresses.of(request('10.1.2.3', '203.0.113.7'))).toBe('203.0.113.7');
    // A client's own (forged) entries sit left of what the trusted proxies appended.
    expect(addresses.of(request('10.1.2.3', '198.51.100.66, 203.0.113.7, 192.0.2.1'))).toBe('203.0.113.7');
    // Every hop trusted: the leftmost is the nearest client there is.
    expect(addresses.of(request('10.1.2.3', '10.9.9.9, 192.0.2.1'))).toBe('10.9.9.9');
    // An untrusted peer's header changes nothing.
    expect(addresses.of(request('198.51.100.1', '203.0.113.7'))).toBe('198.51.100.1');
    expect(addresses.of(request('::ffff:10.1.2.3', '203.0.113.7'))).toBe('203.0.113.7');
    // Repeated headers count as one list, in order.
    expect(addresses.of(request('10.1.2.3', ['198.51.100.66', '203.0.113.7']))).toBe('203.0.113.7');
  });

  it('trusts IPv6 proxies by CIDR and reads IPv6 clients', () => {
    const addresses = new ClientAddresses(ranges('fd00::/8', '::1'));
    expect(addresses.of(request('fd12::1', '2001:db8::42'))).toBe('2001:db8::42');
    expect(addresses.of(request('::1', '2001:db8::42, fd12::1'))).toBe('2001:db8::42');
    expect(addresses.of(request('2001:db8::9', '2001:db8::42'))).toBe('2001:db8::9');
  });

  it('with a hop count, takes the address that many hops from the right, trusting whoever the peers are', () => {
    expect(new ClientAddresses({ kind: 'hops', hops: 1 }).of(request('172.18.0.4', '198.51.100.66, 203.0.113.7'))).toBe('203.0.113.7');
    expect(new ClientAddresses({ kind: 'hops', hops: 2 }).of(request('172.18.0.4', '198.51.100.66, 203.0.113.7'))).toBe('198.51.100.66');
    expect(new ClientAddresses({ kind: 'hops', hops: 3 }).of(request('172.18.0.4', '198.51.100.66, 203.0.113.7'))).toBe('198.51.100.66');
    expect(new ClientAddresses({ kind: 'hops', hops: 1 }).of(request('172.18.0.4'))).toBe('172.18.0.4');
  });

  it('drops ports some proxies add, and stops at an entry that is not an address', () => {
    const addresses = new ClientAddresses(ranges('10.0.0.0/8'));
    expect(addresses.of(request('10.1.2.3', '203.0.113.7:51234'))).toBe('203.0.113.7');
    expect(addresses.of(request('10.1.2.3', '[2001:db8::42]:443'))).toBe('2001:db8::42');
    expect(addresses.of(request('10.1.2.3', 'unknown'))).toBe('10.1.2.3');
    expect(addresses.of(request('10.1.2.3', '203.0.113.7, <script>, 10.2.2.2'))).toBe('10.2.2.2');
    expect(addresses.of(request('10.1.2.3', ''))).toBe('10.1.2.3');
  });
});
