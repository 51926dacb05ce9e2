// Issue 11 item 6(d): the outer IPv4 header's TTL and ECN field as Linux's
// tunnels set them, and ECN on decapsulation.
//  - ipip (flannel's tunl0: ttl 0 = "inherit"): net/ipv4/ip_tunnel.c
//    ip_tunnel_xmit: `if (ttl == 0) ttl = inner_iph->ttl` (the inner TTL
//    after the forwarding hop lowered it);
//  - vxlan (flannel.1, ttl 0): drivers/net/vxlan/vxlan_core.c vxlan_xmit_one:
//    `ttl = ttl ? : ip4_dst_hoplimit(...)`, the default TTL, 64;
//  - both: `tos = ip_tunnel_ecn_encap(tos, old_iph, skb)` with tos 0, i.e.
//    include/net/inet_ecn.h INET_ECN_encapsulate: the inner ECN field copied
//    out, except CE which becomes ECT(0) (RFC 6040 compatibility);
//  - decapsulation (ip_tunnel_rcv and vxlan_rcv -> INET_ECN_decapsulate,
//    RFC 6040 4.2): outer CE over an ECT inner marks the inner CE; outer CE
//    over a Not-ECT inner is dropped (rx_frame_errors; log_ecn_error).
import { describe, it, expect } from 'vitest';
import { eth } from './frames.ts';
import { twoNodes, runNode, podFrame, vxlanFrame, ip4, udp, pattern, ipAt4, N1, N2, POD, UL, INNER_IP, type Kind } from './overlay-kit.ts';
import { refChecksum } from '../util.ts';

const NOT_ECT = 0, ECT1 = 1, ECT0 = 2, CE = 3;

/** Set the TOS byte of the IPv4 header at `at` and make its checksum right again. */
function setTos(f: Uint8Array, at: number, tos: number): Uint8Array {
  f[at + 1] = tos;
  f[at + 10] = f[at + 11] = 0;
  const c = refChecksum(f.subarray(at, at + 20));
  f[at + 10] = c >> 8;
  f[at + 11] = c & 0xff;
  return f;
}
const podPacket = (me = N1, peer = N2, ttl = 64) =>
  podFrame(me, { dst: peer.pod, proto: 17, ttl, payload: udp(me.pod, peer.pod, 5000, 53, pattern(30)) });

function encap(kind: Kind, ecn: number, ttl = 64) {
  const [n1] = twoNodes(kind);
  const r = runNode(n1, [{ port: POD, frame: setTos(podPacket(N1, N2, ttl), 14, 0xb8 | ecn) }]); // DSCP EF + ECN
  expect(r.drops).toEqual({});
  return { outer: ipAt4(r.tx[0].frame, 14), inner: ipAt4(r.tx[0].frame, INNER_IP[kind]), tos: r.tx[0].frame[15] };
}

/** What node 2 would send node 1 for its pod, outer ECN `oecn`, inner ECN `iecn`. */
function underlayFrame(kind: Kind, oecn: number, iecn: number): Uint8Array {
  const innerIp = setTos(ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 53, 5000, pattern(30)) }), 0, iecn);
  const f = kind === 'ipip'
    ? eth(N1.ulMac, N2.ulMac, 0x0800, ip4({ src: N2.ul, dst: N1.ul, proto: 4, ttl: 63, payload: innerIp }))
    : vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner: eth(N1.vtep, N2.vtep, 0x0800, innerIp) });
  return setTos(f, 14, oecn);
}

describe('tunnel outer TTL (Linux ipip ttl inherit, vxlan default TTL)', () => {
  it('IP-in-IP: the outer TTL is the inner TTL after this hop (10 -> 9), not 64', () => {
    const { outer, inner } = encap('ipip', NOT_ECT, 10);
    expect(inner.ttl).toBe(9);
    expect(outer.ttl).toBe(9);
    expect(outer.headerOk).toBe(true);
  });
  it('VXLAN: the outer TTL stays 64 (ip4_dst_hoplimit)', () => {
    expect(encap('vxlan', NOT_ECT, 10).outer.ttl).toBe(64);
  });
});

describe.each(['ipip', 'vxlan'] as const)('%s: ECN', (kind) => {
  it.each([[NOT_ECT, NOT_ECT], [ECT0, ECT0], [ECT1, ECT1], [CE, ECT0]])('encapsulation: inner ECN %i -> outer %i; DSCP not copied', (iecn, oecn) => {
    const { outer, tos, inner } = encap(kind, iecn);
    expect(tos & 3).toBe(oecn);
    expect(tos >> 2, 'outer DSCP 0 (tos 0, not "inherit")').toBe(0);
    expect(outer.headerOk).toBe(true);
    expect(inner.headerOk).toBe(true);
  });

  it('decapsulation: outer CE over an ECT(0) inner marks the inner CE (header checksum still right)', () => {
    const [n1] = twoNodes(kind);
    const r = runNode(n1, [{ port: UL, frame: underlayFrame(kind, CE, ECT0) }]);
    expect(r.drops).toEqual({});
    const ip = ipAt4(r.tx[0].frame, 14);
    expect(r.tx[0].frame[15] & 3).toBe(CE);
    expect(ip.headerOk).toBe(true);
  });

  it('decapsulation: outer CE over a Not-ECT inner is dropped (tunnel_ecn_not_ect)', () => {
    const [n1] = twoNodes(kind);
    const r = runNode(n1, [{ port: UL, frame: underlayFrame(kind, CE, NOT_ECT) }]);
    expect(r.drops).toEqual({ tunnel_ecn_not_ect: 1 });
    expect(r.tx).toEqual([]);
  });

  it('decapsulation: outer ECT(0) over a Not-ECT inner passes, the inner unchanged', () => {
    const [n1] = twoNodes(kind);
    const r = runNode(n1, [{ port: UL, frame: underlayFrame(kind, ECT0, NOT_ECT) }]);
    expect(r.drops).toEqual({});
    expect(r.tx[0].frame[15] & 3).toBe(NOT_ECT);
  });
});
