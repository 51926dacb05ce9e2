// Structure-aware fuzzing of every stage (issue 11 item 7), used by
// fuzz.test.ts: two nodes with an overlay between them, node 1 with a
// backend pod and Services (DNAT, masquerade, reject, Local), valid frames of
// every kind (pod -> peer pod, -> Service, -> gateway, bridged, super-frames,
// partial checksums, fragments; from the underlay: VXLAN / IP-in-IP / host-gw
// frames, replies to translated flows, ICMP errors quoting them, NodePort
// SYNs, ARP, echo), then mutated where it matters: header fields set to edge
// values (lengths, IHL, flags and offsets, TTL, ECN, protocols, addresses,
// ports, VXLAN flags and VNI, ICMP type, VLAN tags), checksums re-made or
// not, bytes flipped, cut short or padded, vnet headers described right or
// wrong. A seeded PRNG (test/util.ts prng), so a failure reproduces.
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import type { Build } from '../../src/dataplane/wasm.ts';
import { eth, vnet, type In } from './frames.ts';
import {
  twoNodes, runNode, podFrame, ip4, udp, tcpSuper, arpRequest, icmpMsg, vxlanFrame, pattern,
  N1, N2, POD, UL, TUNNEL_MTU, TCP_TS_HLEN, type Kind,
} from './overlay-kit.ts';
import { VIP, B1, B1_MAC, B1_PORT, SYN, ACK, PSH, tcpSeg } from './service-kit.ts';
import { prng, refChecksum } from '../util.ts';

export type Rng = ReturnType<typeof prng>;
const EXT = '172.31.255.50', EXT_MAC = '0a:58:ac:1f:ff:32';

/** Node 1 (the one fuzzed) and node 2 (gets node 1's underlay frames, as the fabric hands them over). */
export function lab(kind: Kind, build: Build, noGso: boolean): [Dataplane, Dataplane] {
  const [n1, n2] = twoNodes(kind, { slots: 64, genSlots: 512, build, ctCapacity: 4096, svcCapacity: 16, svcMaxBackends: 8 });
  n1.attachPort(B1_PORT, TUNNEL_MTU[kind]);
  n1.setNeighbor(B1, B1_MAC);
  runNode(n1, [{ port: B1_PORT, frame: arpRequest(B1_MAC, B1, N1.gw) }]);
  n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }, { ip: N2.pod, port: 8080 }]);
  n1.addService(VIP, 53, 'udp', [{ ip: N2.pod, port: 5353 }]);
  n1.addService(VIP, 81, 'tcp', []); // no endpoints: rejected
  n1.addService(VIP, 82, 'udp', [], { dropWhenEmpty: true });
  n1.addService(N1.ul, 30080, 'tcp', [{ ip: N2.pod, port: 8080 }], { masquerade: true });
  n1.addRoute(`${EXT}/32`, 'host-gw', EXT);
  n1.setNeighbor(EXT, EXT_MAC);
  n1.setServiceSeed(7);
  if (noGso) n1.setUnderlayNoGso(true);
  return [n1, n2];
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(xs.length)];
/** Client ports from a small range, so flows recur and conntrack hits as well as misses. */
const cport = (r: Rng) => 40000 + r.int(64);

/** What node 2 would put on the underlay for node 1 around `inner` (an IPv4 packet). */
function fromPeer(kind: Kind, inner: Uint8Array): Uint8Array {
  if (kind === 'vxlan') return vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner: eth(N1.vtep, N2.vtep, 0x0800, inner) });
  if (kind === 'ipip') return eth(N1.ulMac, N2.ulMac, 0x0800, ip4({ src: N2.ul, dst: N1.ul, proto: 4, ttl: inner[8], payload: inner }));
  return eth(N1.ulMac, N2.ulMac, 0x0800, inner);
}

const partial = (l4: number, field: number) => vnet({ flags: 1, csumStart: 14 + 20 + l4, csumOffset: field });
/** A UDP datagram whose checksum field holds the pseudo-header sum (NEEDS_CSUM). */
function udpPartial(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const d = udp(src, dst, sport, dport, payload, true);
  const ps = new Uint8Array(12);
  ps.set(src.split('.').map(Number), 0); ps.set(dst.split('.').map(Number), 4); ps[9] = 17; ps[10] = d.length >> 8; ps[11] = d.length & 0xff;
  const p = ~refChecksum(ps) & 0xffff;
  d[6] = p >> 8; d[7] = p & 0xff;
  return d;
}

/** Valid frames of every kind node 1 meets, by name. */
export function seedKinds(kind: Kind): Record<string, (r: Rng) => In> {
  const toPod = (r: Rng, dst: string, proto: number, payload: Uint8Array, o: { df?: boolean; ttl?: number; mf?: boolean; offset?: number } = {}) =>
    podFrame(N1, { dst, proto, payload, df: o.df ?? r.chance(0.5), ttl: o.ttl ?? (r.chance(0.1) ? 1 + r.int(2) : 64), mf: o.mf, offset: o.offset });
  return {
    routedUdp: (r) => ({ port: POD, frame: toPod(r, N2.pod, 17, udp(N1.pod, N2.pod, cport(r), 53, pattern(r.chance(0.2) ? 1400 + r.int(1600) : r.int(200)))) }),
    routedTcp: (r) => ({ port: POD, frame: toPod(r, N2.pod, 6, tcpSeg(N1.pod, N2.pod, cport(r), 5201, pick(r, [SYN, ACK, ACK | PSH]), pattern(r.int(1500)))) }),
    routedEcho: (r) => ({ port: POD, frame: toPod(r, N2.pod, 1, icmpMsg(8, 0, r.u32(), pattern(r.int(100)))) }),
    fragment: (r) => ({ port: POD, frame: toPod(r, N2.pod, 17, pattern(8 + 8 * r.int(200)), { df: false, mf: r.chance(0.5), offset: 8 * r.int(400) }) }),
    svcTcp: (r) => ({ port: POD, frame: toPod(r, VIP, 6, tcpSeg(N1.pod, VIP, cport(r), 80, pick(r, [SYN, SYN, ACK, ACK | PSH]), pattern(r.int(300)))) }),
    svcUdp: (r) => ({ port: POD, frame: toPod(r, VIP, 17, udp(N1.pod, VIP, cport(r), pick(r, [53, 82]), pattern(r.int(100)))) }),
    svcReject: (r) => ({ port: POD, frame: toPod(r, VIP, 6, tcpSeg(N1.pod, VIP, cport(r), 81, SYN)) }),
    gwArp: () => ({ port: POD, frame: arpRequest(N1.podMac, N1.pod, N1.gw) }),
    gwEcho: (r) => ({ port: POD, frame: toPod(r, N1.gw, 1, icmpMsg(8, 0, r.u32(), pattern(r.int(64)))) }),
    bridged: (r) => ({ port: POD, frame: eth(B1_MAC, N1.podMac, 0x0800, ip4({ src: N1.pod, dst: B1, proto: 17, payload: udp(N1.pod, B1, cport(r), 9, pattern(r.int(100))) })) }),
    // a backend on the client's bridge answers directly: un-DNAT on the bridge (br_netfilter)
    backendReply: (r) => ({ port: B1_PORT, frame: eth(N1.podMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.pod, proto: 6, payload: tcpSeg(B1, N1.pod, 8080, cport(r), SYN | ACK) })) }),
    partialCsum: (r) => {
      const tcp = r.chance(0.5);
      const dst = pick(r, [N2.pod, VIP, B1]);
      const l4 = tcp ? tcpSuper({ src: N1.pod, dst, sport: cport(r), dport: 80, payload: pattern(r.int(1400)) })
        : udpPartial(N1.pod, dst, cport(r), 53, pattern(r.int(1400)));
      return { port: POD, frame: toPod(r, dst, tcp ? 6 : 17, l4, { df: true }), vnet: partial(0, tcp ? 16 : 6) };
    },
    superFrame: (r) => {
      const mss = pick(r, [1398, 1428, 1448, 536, 9000]);
      const dst = pick(r, [N2.pod, N2.pod, VIP]);
      const payload = pattern(mss + r.int(20000));
      const frame = toPod(r, dst, 6, tcpSuper({ src: N1.pod, dst, sport: cport(r), dport: 80, payload, flags: pick(r, [ACK | PSH, ACK | PSH | 1, ACK | 0xc0]) }), { df: r.chance(0.9), ttl: 64 });
      return { port: POD, frame, vnet: vnet({ flags: 1, gsoType: pick(r, [1, 1, 0x81]), gsoSize: mss, hdrLen: 14 + 20 + TCP_TS_HLEN, csumStart: 34, csumOffset: 16 }) };
    },
    ulToPod: (r) => ({ port: UL, frame: fromPeer(kind, ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 53, cport(r), pattern(r.int(1300))) })) }),
    ulSvcReply: (r) => ({ port: UL, frame: fromPeer(kind, ip4({ src: N2.pod, dst: pick(r, [N1.pod, N1.gw]), proto: 6, ttl: 63, payload: tcpSeg(N2.pod, N1.pod, 8080, cport(r), SYN | ACK) })) }),
    ulIcmpError: (r) => {
      const quoted = ip4({ src: N1.pod, dst: N2.pod, proto: 17, ttl: 62, payload: udp(N1.pod, N2.pod, cport(r), 5353, pattern(12)) });
      return { port: UL, frame: fromPeer(kind, ip4({ src: N2.pod, dst: N1.pod, proto: 1, ttl: 63, payload: icmpMsg(3, pick(r, [3, 1, 4]), 0, quoted.subarray(0, pick(r, [28, 40, 20, 24]))) })) };
    },
    nodePort: (r) => ({ port: UL, frame: eth(N1.ulMac, EXT_MAC, 0x0800, ip4({ src: EXT, dst: N1.ul, proto: 6, payload: tcpSeg(EXT, N1.ul, 50000 + r.int(32), 30080, pick(r, [SYN, ACK])) })) }),
    ulArp: () => ({ port: UL, frame: arpRequest(N2.ulMac, N2.ul, N1.ul) }),
    ulEcho: (r) => ({ port: UL, frame: eth(N1.ulMac, N2.ulMac, 0x0800, ip4({ src: N2.ul, dst: N1.ul, proto: 1, payload: icmpMsg(8, 0, r.u32(), pattern(r.int(56))) })) }),
  };
}

/** Offsets of the IPv4 headers in an Ethernet frame: the outer one, and the inner one of a VXLAN / IP-in-IP packet. */
function ipHeaders(f: Uint8Array): number[] {
  const out: number[] = [];
  let l2 = 14;
  if (f.length >= 18 && (f[12] === 0x81 || f[12] === 0x88) && f[13] === (f[12] === 0x81 ? 0x00 : 0xa8)) l2 = 18;
  if (f.length < l2 + 20 || f[l2 - 2] !== 0x08 || f[l2 - 1] !== 0x00) return out;
  out.push(l2);
  const ihl = (f[l2] & 0xf) * 4;
  if (f[l2 + 9] === 4 && f.length >= l2 + ihl + 20) out.push(l2 + ihl);
  if (f[l2 + 9] === 17 && f.length >= l2 + ihl + 8 + 8 + 14 + 20 && ((f[l2 + ihl + 2] << 8) | f[l2 + ihl + 3]) === 8472) out.push(l2 + ihl + 30);
  return out;
}
function fixIpCsum(f: Uint8Array, at: number): void {
  const ihl = Math.max(20, (f[at] & 0xf) * 4);
  if (f.length < at + ihl) return;
  f[at + 10] = f[at + 11] = 0;
  const c = refChecksum(f.subarray(at, at + ihl));
  f[at + 10] = c >> 8; f[at + 11] = c & 0xff;
}
const ADDRS = [VIP, N1.gw, N1.ul, N1.pod, N2.pod, B1, '255.255.255.255', '224.0.0.1', '127.0.0.1', '0.0.0.0', '240.1.2.3', '10.244.0.255'];
const MACS = [N1.gwMac, N1.ulMac, N1.vtep, N1.podMac, B1_MAC, 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '00:00:00:00:00:00'];
const macBytes = (m: string) => m.split(':').map((x) => parseInt(x, 16));
const put16 = (f: Uint8Array, at: number, v: number) => { if (at + 1 < f.length) { f[at] = (v >> 8) & 0xff; f[at + 1] = v & 0xff; } };

/** One structure-aware mutation of `f` (in place, or a new array when the length changes). */
function mutateOnce(r: Rng, f: Uint8Array): Uint8Array {
  const ips = ipHeaders(f);
  const what = r.int(12);
  if (what <= 4 && ips.length) {
    const at = pick(r, ips);
    const ihl = (f[at] & 0xf) * 4;
    const total = (f[at + 2] << 8) | f[at + 3];
    switch (r.int(9)) {
      case 0: put16(f, at + 2, pick(r, [0, 19, 20, ihl, total - 1, total + 1, total + 8, 0xffff, r.int(0x10000)])); break;
      case 1: f[at] = pick(r, [0x40, 0x44, 0x46, 0x4f, 0x65, 0x45]) ; break;
      case 2: f[at + 1] = r.int(256); break; // DSCP + ECN
      case 3: put16(f, at + 6, pick(r, [0x2000, 0x4000, 0x8000, 0x2000 | r.int(0x2000), r.int(0x2000), 0x6000])); break;
      case 4: f[at + 8] = pick(r, [0, 1, 2, 255]); break;
      case 5: f[at + 9] = pick(r, [1, 4, 6, 17, 47, r.int(256)]); break;
      case 6: f.set(pick(r, ADDRS).split('.').map(Number), at + pick(r, [12, 16])); break;
      default: { // the transport header: ports, lengths, TCP offset/flags, ICMP type/code, VXLAN flags/VNI
        const l4 = at + ihl;
        if (l4 + 8 > f.length) break;
        const o = pick(r, [0, 2, 4, 6, 12, 13, 8, 9, 11]);
        if (o === 0 || o === 2) put16(f, l4 + o, pick(r, [0, 53, 80, 81, 82, 8472, 4789, 30080, 5353, 8080, r.int(0x10000)]));
        else if (o === 4) put16(f, l4 + 4, pick(r, [0, 7, 8, 9, 0xffff, r.int(0x10000)]));
        else if (l4 + o < f.length) f[l4 + o] = pick(r, [0, 0x08, 0x50, 0xf0, 0x02, 0x12, 0xff, r.int(256)]);
      }
    }
    if (r.chance(0.8)) fixIpCsum(f, at); // a bad header checksum stops at the first check: mostly make it right
    return f;
  }
  if (what === 5) { // Ethernet: destination MAC, ethertype, a VLAN tag
    const k = r.int(3);
    if (k === 0 && f.length >= 6) f.set(macBytes(pick(r, MACS)), 0);
    else if (k === 1) put16(f, 12, pick(r, [0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8, 0]));
    else if (f.length >= 12) { const vid = pick(r, [0, 0, 100, r.int(4096)]); return Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, 0xa0 | (vid >> 8), vid & 0xff, ...f.subarray(12)]); }
    return f;
  }
  if (what <= 8 && f.length) { // flip bits, mostly in the headers
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) { const at = r.chance(0.8) ? r.int(Math.min(f.length, 100)) : r.int(f.length); f[at] ^= 1 << r.int(8); }
    return f;
  }
  if (what === 9) return f.slice(0, r.int(f.length + 1));
  if (what === 10) return Uint8Array.from([...f, ...r.bytes(r.int(64))]);
  return f;
}

/** A vnet header: right (NEEDS_CSUM at the transport checksum, GSO fields sane) or wrong. */
function mutateVnet(r: Rng, f: Uint8Array, v?: Uint8Array): Uint8Array {
  const l4 = 34 + (f.length > 14 ? ((f[14] & 0xf) * 4 - 20) : 0);
  const start = l4 + pick(r, [0, 0, -4, 4, -34, 2000, r.int(200)]);
  return vnet({
    flags: pick(r, [0, 1, 1, 2, 3]),
    gsoType: pick(r, [0, 0, 1, 1, 3, 4, 5, 0x80, 0x81, 2]),
    hdrLen: pick(r, [0, 14 + 20 + 20, f.length, f.length + 1, r.int(200), v ? (v[2] | (v[3] << 8)) : 0]),
    gsoSize: pick(r, [0, 1, 8, 536, 1400, 1448, 9000, 65535]),
    csumStart: Math.max(0, Math.min(0xffff, start)),
    csumOffset: pick(r, [6, 16, 2, 0, r.int(64), 0xffff]),
  });
}

/** The next fuzz input for node 1: a valid frame of some kind, mutated or not. */
export function makeInput(r: Rng, kinds: Record<string, (r: Rng) => In>, names: string[]): In & { kind: string } {
  const kind = pick(r, names);
  const s = kinds[kind](r);
  let frame: Uint8Array = s.frame.slice();
  let v: Uint8Array | undefined = s.vnet?.slice();
  let port = s.port;
  if (r.chance(0.75)) {
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) frame = mutateOnce(r, frame);
  }
  if (r.chance(0.1)) v = mutateVnet(r, frame, v);
  if (r.chance(0.05)) port = pick(r, [POD, B1_PORT, UL, 3, 200]);
  return { kind, port, frame, vnet: v };
}
