import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { TrustProxy } from '../config/gateway-config';

/**
 * The client's address (SPEC section 8), for everything that counts or logs
 * by address: the TCP peer's, or, when the peer is a trusted proxy (TRUST_PROXY),
 * the nearest address in X-Forwarded-For that no trusted proxy wrote. The
 * REST routes and the WebSocket upgrade both read it from the raw request,
 * so they cannot disagree. (Fastify's own `trustProxy` stays off: `request.ip`
 * is the peer, and nothing reads it.)
 */
export class ClientAddresses {
  private readonly trusted?: BlockList;

  constructor(private readonly trust: TrustProxy) {
    if (trust.kind !== 'ranges') return;
    this.trusted = new BlockList();
    for (const range of trust.ranges) {
      const [address, prefix] = range.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.trusted.addAddress(address, family);
      else this.trusted.addSubnet(address, Number(prefix), family);
    }
  }

  of(request: IncomingMessage): string {
    let address = plainAddress(request.socket.remoteAddress) ?? 'unknown';
    if (this.trust.kind === 'none') return address;
    const forwarded = request.headers['x-forwarded-for'];
    if (!forwarded) return address;
    // Each proxy appends the address it was reached from: walk from the right while the hop is trusted.
    const hops = [forwarded].flat().join(',').split(',');
    for (let hop = 0; hop < hops.length && this.trusts(address, hop); hop++) {
      const next = plainAddress(hops[hops.length - 1 - hop].trim());
      // What a trusted proxy handed on is not an address: the proxy is the nearest client we can name.
      if (next === undefined) break;
      address = next;
    }
    return address;
  }

  private trusts(address: string, hop: number): boolean {
    if (this.trust.kind === 'hops') return hop < this.trust.hops;
    return this.trusted!.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}

/**
 * An address as the caps count it, or undefined when it is none: an IPv4
 * client reaching a dual-stack listener counts as its IPv4 address, and a
 * port some proxies add (`1.2.3.4:5678`, `[::1]:80`) is dropped.
 */
function plainAddress(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let address = raw;
  const bracketed = /^\[([^\]]+)\](?::[0-9]+)?$/.exec(address);
  if (bracketed) address = bracketed[1];
  else if (/^[0-9.]+:[0-9]+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  if (/^::ffff:[0-9.]+$/i.test(address)) address = address.slice('::ffff:'.length);
  return isIP(address) ? address : undefined;
}
