// CIDR arithmetic for the control plane, on ip-num.
import { IPv4CidrRange, IPv4Prefix } from 'ip-num';
import { ipv4ToInt, intToIpv4 } from './addr.ts';

export interface Cidr {
  /** canonical text, e.g. "10.244.1.0/24" */
  text: string;
  prefixLen: number;
  range: IPv4CidrRange;
}

/** Parse "a.b.c.d/n". `what` names the field for the error message. */
export function parseCidr(text: unknown, what: string): Cidr {
  if (typeof text !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(text)) {
    throw new Error(`${what}: "${String(text)}" is not an IPv4 CIDR like 10.244.0.0/16`);
  }
  const [ip, len] = text.split('/');
  const prefixLen = Number(len);
  if (prefixLen > 32) throw new Error(`${what}: "${text}" has a prefix length over 32`);
  const addr = ipv4ToInt(ip);
  const mask = prefixLen === 0 ? 0 : (~0 << (32 - prefixLen)) >>> 0;
  if ((addr & ~mask) >>> 0 !== 0) {
    throw new Error(`${what}: "${text}" has host bits set (did you mean ${intToIpv4((addr & mask) >>> 0)}/${prefixLen}?)`);
  }
  return { text, prefixLen, range: IPv4CidrRange.fromCidr(text) };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.range.isOverlapping(b.range);
}

export function inside(inner: Cidr, outer: Cidr): boolean {
  return inner.range.inside(outer.range) || inner.range.isEquals(outer.range);
}

/** The n-th address of a CIDR (0 = network address). */
export function nthAddress(c: Cidr, n: number): string {
  return intToIpv4((ipv4ToInt(c.range.getFirst().toString()) + n) >>> 0);
}

/** Usable pod addresses: all but the network address, the gateway (first host) and broadcast. */
export function podCapacity(c: Cidr): number {
  return Math.max(0, Number(c.range.getSize()) - 3);
}

/** Subnets of `prefixLen` inside `pool`, in address order, that overlap none of `taken`. */
export function* freeSubnets(pool: Cidr, prefixLen: number, taken: Cidr[]): Generator<Cidr> {
  if (prefixLen < pool.prefixLen) return;
  // walk without materialising all subnets (a /8 split into /24 is 65536 of them)
  let r: IPv4CidrRange | undefined = new IPv4CidrRange(pool.range.getFirst(), IPv4Prefix.fromNumber(BigInt(prefixLen)));
  while (r && (r.inside(pool.range) || r.isEquals(pool.range))) {
    const c: Cidr = { text: r.toCidrString(), prefixLen, range: r };
    if (!taken.some((t) => overlaps(t, c))) yield c;
    r = r.hasNextRange() ? r.nextRange() : undefined;
  }
}

/** Whether the address `ip` ("10.244.1.7") lies in `c`. */
export function containsAddress(c: Cidr, ip: string): boolean {
  const net = ipv4ToInt(c.range.getFirst().toString());
  const mask = c.prefixLen === 0 ? 0 : (~0 << (32 - c.prefixLen)) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === net;
}
