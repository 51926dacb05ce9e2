// A minimal rtnetlink client (linux/netlink.h, linux/rtnetlink.h): the few
// requests a pod's interface needs (link flags/MAC/MTU/alias, an IPv4
// address, a default route), sent from this process over a NETLINK_ROUTE
// socket opened inside the pod's namespace. It replaces one `ip -n NS`
// process per pod: with a thousand namespaces mounted, each such process
// pays a fork/exec and a copy of the mount table (`ip -n` unshares the mount
// namespace to remount /sys), which made `up` of a 1000-pod lab take tens of
// seconds. A netlink socket stays in the namespace it was created in, so the
// calling thread enters the namespace only to create it (setns.ts inNetns).
import { AF_INET } from './socket.ts';
import { close, ifNameToIndex, read, socket, sysError, write, O_NONBLOCK, EAGAIN, strerror } from './libc.ts';
import { inNetns } from './setns.ts';

const AF_NETLINK = 16;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;

const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

export const RTM_NEWLINK = 16;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;

const IFLA_ADDRESS = 1;
const IFLA_MTU = 4;
const IFLA_IFALIAS = 20;
const IFLA_AF_SPEC = 26;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;
export const IFF_UP = 0x1;
/** the loopback device's index in every network namespace (LOOPBACK_IFINDEX) */
export const LOOPBACK_IFINDEX = 1;

const NLMSG_HDRLEN = 16;
const align4 = (n: number) => (n + 3) & ~3;

/** One rtnetlink request: its message type, flags beyond REQUEST|ACK, fixed header and attributes; `what` names it in errors. */
export interface NetlinkRequest { what: string; type: number; flags?: number; header: Uint8Array; attrs: Uint8Array[] }

/** A route attribute (struct rtattr): length, type, payload, padded to 4 bytes. */
export function rtattr(type: number, payload: Uint8Array): Uint8Array {
  const len = 4 + payload.length;
  const out = new Uint8Array(align4(len));
  const dv = new DataView(out.buffer);
  dv.setUint16(0, len, true);
  dv.setUint16(2, type, true);
  out.set(payload, 4);
  return out;
}

const u32 = (v: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };
const ipv4 = (ip: string) => {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: "${ip}"`);
  return Uint8Array.from(parts);
};
const mac = (m: string) => {
  const parts = m.split(':').map((h) => parseInt(h, 16));
  if (parts.length !== 6 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not a MAC address: "${m}"`);
  return Uint8Array.from(parts);
};

/** struct ifinfomsg: family, type, index, flags, change. */
function ifinfomsg(index: number, flags: number, change: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setInt32(4, index, true);
  dv.setUint32(8, flags, true);
  dv.setUint32(12, change, true);
  return b;
}

/** Link `index`: up or not (only what is given changes), MAC, MTU, alias, IPv6 address generation off. */
export function setLink(index: number, o: { what: string; up?: boolean; mac?: string; mtu?: number; alias?: string; noIpv6AddrGen?: boolean }): NetlinkRequest {
  const attrs: Uint8Array[] = [];
  if (o.mac !== undefined) attrs.push(rtattr(IFLA_ADDRESS, mac(o.mac)));
  if (o.mtu !== undefined) attrs.push(rtattr(IFLA_MTU, u32(o.mtu)));
  // the alias without a terminating NUL, as iproute2 sends it (the kernel stores the bytes given)
  if (o.alias !== undefined) attrs.push(rtattr(IFLA_IFALIAS, Buffer.from(o.alias, 'utf8')));
  if (o.noIpv6AddrGen) attrs.push(rtattr(IFLA_AF_SPEC, rtattr(AF_INET6, rtattr(IFLA_INET6_ADDR_GEN_MODE, Uint8Array.of(IN6_ADDR_GEN_MODE_NONE)))));
  const change = o.up === undefined ? 0 : IFF_UP;
  return { what: o.what, type: RTM_NEWLINK, header: ifinfomsg(index, o.up ? IFF_UP : 0, change), attrs };
}

/** An IPv4 address ip/prefixLen on link `index` (the kernel adds the connected route). */
export function addAddress(index: number, ip: string, prefixLen: number, what: string): NetlinkRequest {
  const h = Uint8Array.of(AF_INET, prefixLen, 0, RT_SCOPE_UNIVERSE, 0, 0, 0, 0);
  new DataView(h.buffer).setUint32(4, index, true);
  return { what, type: RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL, header: h, attrs: [rtattr(IFA_LOCAL, ipv4(ip)), rtattr(IFA_ADDRESS, ipv4(ip))] };
}

/** The IPv4 default route via `gateway` out of link `index`, in the main table. */
export function addDefaultRoute(index: number, gateway: string, what: string): NetlinkRequest {
  // struct rtmsg: family dst_len src_len tos table protocol scope type, flags (u32)
  const h = Uint8Array.of(AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0, 0, 0, 0);
  return { what, type: RTM_NEWROUTE, flags: NLM_F_CREATE | NLM_F_EXCL, header: h, attrs: [rtattr(RTA_GATEWAY, ipv4(gateway)), rtattr(RTA_OIF, u32(index))] };
}

/** The requests as one buffer of netlink messages, sequence numbers seq0, seq0+1, ... */
export function encodeRequests(reqs: NetlinkRequest[], seq0 = 1): Uint8Array {
  const msgs = reqs.map((r, i) => {
    const len = NLMSG_HDRLEN + r.header.length + r.attrs.reduce((a, x) => a + x.length, 0);
    const m = new Uint8Array(align4(len));
    const dv = new DataView(m.buffer);
    dv.setUint32(0, len, true);
    dv.setUint16(4, r.type, true);
    dv.setUint16(6, NLM_F_REQUEST | NLM_F_ACK | (r.flags ?? 0), true);
    dv.setUint32(8, seq0 + i, true);
    let at = NLMSG_HDRLEN;
    m.set(r.header, at);
    at += r.header.length;
    for (const a of r.attrs) { m.set(a, at); at += a.length; }
    return m;
  });
  const out = new Uint8Array(msgs.reduce((a, m) => a + m.length, 0));
  let at = 0;
  for (const m of msgs) { out.set(m, at); at += m.length; }
  return out;
}

/** The acknowledgements in a buffer read from the socket: sequence number -> 0 or -errno. */
export function decodeAcks(buf: Uint8Array, len: number): Map<number, number> {
  const acks = new Map<number, number>();
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  let at = 0;
  while (at + NLMSG_HDRLEN <= len) {
    const mlen = dv.getUint32(at, true);
    if (mlen < NLMSG_HDRLEN || at + mlen > len) break; // truncated: ignore the rest
    if (dv.getUint16(at + 4, true) === NLMSG_ERROR && mlen >= NLMSG_HDRLEN + 4) {
      acks.set(dv.getUint32(at + 8, true), dv.getInt32(at + NLMSG_HDRLEN, true));
    }
    at += align4(mlen);
  }
  return acks;
}

/**
 * A NETLINK_ROUTE socket in pw- namespace `ns`. The kernel handles each
 * request while write(2) runs, so every acknowledgement is queued when
 * write returns: the socket is non-blocking and a missing one is an error,
 * never a hang.
 */
export class RouteNetlink {
  private seq = 1;
  private readonly buf = new Uint8Array(8192);

  private constructor(readonly fd: number, readonly ns: string) {}

  /** Open the socket inside `ns`; `ifName`'s index there is looked up in the same visit. */
  static open(ns: string, ifName?: string): { nl: RouteNetlink; ifIndex: number } {
    return inNetns(ns, () => {
      const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | O_NONBLOCK, NETLINK_ROUTE);
      if (fd < 0) throw sysError('socket(AF_NETLINK)', ns, fd);
      const ifIndex = ifName === undefined ? 0 : ifNameToIndex(ifName);
      if (ifName !== undefined && ifIndex === 0) {
        close(fd);
        throw new Error(`${ns}: no interface ${ifName}`);
      }
      return { nl: new RouteNetlink(fd, ns), ifIndex };
    });
  }

  /** Send the requests in one write; throws naming the first that failed (the kernel still tries the rest). */
  request(reqs: NetlinkRequest[]): void {
    const seq0 = this.seq;
    this.seq += reqs.length;
    const msg = encodeRequests(reqs, seq0);
    const w = write(this.fd, msg);
    if (w < 0) throw sysError('netlink write', this.ns, w);
    const acks = new Map<number, number>();
    while (acks.size < reqs.length) {
      const n = read(this.fd, this.buf);
      if (n === -EAGAIN) break;
      if (n < 0) throw sysError('netlink read', this.ns, n);
      for (const [s, e] of decodeAcks(this.buf, n)) acks.set(s, e);
    }
    reqs.forEach((r, i) => {
      const e = acks.get(seq0 + i);
      if (e === undefined) throw new Error(`${this.ns}: ${r.what}: no answer from the kernel`);
      if (e < 0) {
        const err = new Error(`${this.ns}: ${r.what}: ${strerror(-e)} (errno ${-e})`) as Error & { errno: number };
        err.errno = -e;
        throw err;
      }
    });
  }

  close(): void {
    close(this.fd);
  }
}
