// Every drop reason the data plane names is reachable from a crafted frame,
// and counted under that name alone: exactly one drop counter moves, by one,
// and the frame produces no tx entry, except the ICMP error a router sends
// about it (RFC 1812: time exceeded, unreachable, fragmentation needed),
// generated and addressed to the frame's source.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
// @ts-expect-error: a plain .mjs build script, no type declarations
import { dropMembers } from '../../scripts/drop-names.mjs';
import { GEN_SLOT, type Dataplane, type DataplaneOptions } from '../../src/dataplane/dataplane.ts';
import { newDataplane, run, delta, eth, ipv4, icmp, vnet, udpFrame, GW_IP, GW_MAC, BCAST, podMac, podIp, type In, type Out, type Result } from './frames.ts';
import { hex, refChecksum, rd16 } from '../util.ts';
import { ip4, udp, vxlanFrame, pattern } from './overlay-kit.ts';
import { tcpSeg } from './service-kit.ts';
import { ARP_TRUNCATED, ARP_REQUEST_FOR_GW, ARP_REPLY_FROM_GW } from '../vectors/arp.ts';
import { ICMP_TRUNCATED, ICMP_ECHO_REQUEST } from '../vectors/icmp.ts';
import { IPV4_SHORT_PAYLOAD } from '../vectors/ipv4.ts';
import { programPolicies } from '../../src/dataplane/policy-sync.ts';
import { compilePolicies } from '../../src/model/network-policy-compile.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';

const A = podMac(2), B = podMac(3);

/** Change IPv4 header byte `off` of an Ethernet frame and make the header checksum right again. */
function ipPatch(frame: Uint8Array, off: number, val: number): Uint8Array {
  const f = frame.slice();
  f[14 + off] = val;
  const hlen = Math.max(20, (f[14] & 0xf) * 4);
  f[24] = f[25] = 0;
  const c = refChecksum(f.subarray(14, 14 + Math.min(hlen, f.length - 14)));
  f[24] = c >> 8;
  f[25] = c & 0xff;
  return f;
}
const plainUdp = () => udpFrame(B, A);
const toGw = (proto: number, payload: Uint8Array, dst = GW_IP) => eth(GW_MAC, A, 0x0800, ipv4(podIp(2), dst, proto, payload));

/**
 * `icmp`: the ICMP error (type, code) sent back about the frame, if any.
 * `opts`: data plane sizes other than newDataplane's. `earlier`: work done
 * earlier in the same round (no txClear after it), the frame then comes after.
 */
interface Case {
  reason: string; what: string; frame: In; ports?: number; setup?: (dp: Dataplane) => void;
  icmp?: [number, number]; opts?: DataplaneOptions; earlier?: (dp: Dataplane) => void;
}
const learnB = (dp: Dataplane) => run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);

// Every case's node is also an overlay node (node 1 of test/dataplane/overlay-kit.ts):
// its pod CIDR is local, the peer's (10.244.1.0/24) is behind VXLAN, pod A is a known neighbour.
const UL = 4, UL_IP = '172.31.255.1', UL_MAC = '0a:58:ac:1f:ff:01', VTEP = '0e:00:00:00:00:01';
const PEER_UL = '172.31.255.2', PEER_UL_MAC = '0a:58:ac:1f:ff:02', PEER_VTEP = '0e:00:00:00:00:02';
const REMOTE_POD = '10.244.1.5';
function overlayNode(dp: Dataplane): void {
  dp.attachPort(UL, 1500, 'underlay');
  dp.setUnderlay(UL, UL_IP, UL_MAC);
  dp.setOverlay('vxlan', { vni: 1, port: 8472, vtepMac: VTEP });
  dp.addRoute('10.244.0.0/24', 'local');
  dp.addRoute('10.244.1.0/24', 'vxlan', PEER_UL, PEER_VTEP);
  dp.setNeighbor(PEER_UL, PEER_UL_MAC);
  dp.setNeighbor(podIp(2), A);
}
/** A pod A packet to the gateway MAC, for another address (routed). */
const routed = (o: { dst?: string; ttl?: number; df?: boolean; size?: number } = {}) => {
  const dst = o.dst ?? REMOTE_POD;
  return eth(GW_MAC, A, 0x0800, ip4({ src: podIp(2), dst, proto: 17, ttl: o.ttl, df: o.df, payload: udp(podIp(2), dst, 5000, 53, pattern((o.size ?? 64) - 28)) }));
};
/** What the peer node would send us: VXLAN around a frame from its pod to pod A. */
const fromPeer = (o: { vni?: number; flags?: number; dport?: number; dstMac?: string; innerDst?: string; dstIp?: string } = {}) =>
  vxlanFrame({
    dstMac: o.dstMac ?? UL_MAC, srcMac: PEER_UL_MAC, srcIp: PEER_UL, dstIp: o.dstIp ?? UL_IP, dport: o.dport, vni: o.vni, flags: o.flags,
    inner: eth(o.innerDst ?? VTEP, PEER_VTEP, 0x0800, ip4({ src: REMOTE_POD, dst: podIp(2), proto: 17, ttl: 63, payload: udp(REMOTE_POD, podIp(2), 53, 5000, pattern(40)) })),
  });
/** The underlay takes no super-frames: they are segmented in software (assembly/stages/gso.ts). */
const segOn = (dp: Dataplane) => dp.setUnderlayNoGso(true);
/** A pod A super-frame (`proto` 6: TCP, 20-byte header; 17: UDP) for the remote pod, and a GSO vnet header of `gsoType`. */
const superFrame = (o: { proto: number; gsoType: number; gsoSize?: number; size?: number }): In => {
  const payload = pattern((o.size ?? 2000) - 40, 1);
  const l4 = o.proto === 17 ? udp(podIp(2), REMOTE_POD, 5000, 5001, pattern((o.size ?? 2000) - 28, 1))
    : Uint8Array.from([0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, ...payload]);
  return {
    port: 0, frame: eth(GW_MAC, A, 0x0800, ip4({ src: podIp(2), dst: REMOTE_POD, proto: o.proto, df: true, payload: l4 })),
    vnet: vnet({ gsoType: o.gsoType, gsoSize: o.gsoSize ?? 1400, hdrLen: 54 }),
  };
};
/** The fabric hands this node `frame` on rx entry `slots`, as engine.ts does, appending to the tx list. */
const handOverKeep = (dp: Dataplane, frame: Uint8Array) => {
  dp.putFrame(0, UL, frame);
  dp.rxAddr[dp.slots] = dp.rxAddr[0]; dp.rxLen[dp.slots] = dp.rxLen[0]; dp.rxPort[dp.slots] = UL;
  return dp.processRange(dp.slots, 1);
};

/** Pod A (podIp(2)) isolated by a NetworkPolicy without rules, for ingress or egress: nothing admitted. */
const isolateA = (type: 'Ingress' | 'Egress') => (dp: Dataplane) => {
  const problems: string[] = [];
  const specs = parseNetworkPolicyList([{ name: 'deny', namespace: 'default', spec: { podSelector: {}, policyTypes: [type] } }], problems);
  programPolicies(dp, compilePolicies('n', [{ name: 'a', namespace: 'default', labels: {}, ip: podIp(2), node: 'n' }], new Map(), specs));
};
/** A node with a Service tracks connections: it reassembles fragments before conntrack. */
const withService = (dp: Dataplane) => dp.addService('10.96.0.10', 53, 'udp', [{ ip: REMOTE_POD, port: 5353 }]);
/** A fragment of UDP datagram `id` from pod A to the Service: `size` payload bytes at byte offset `offset`. */
const frag = (offset: number, mf: boolean, size = 64, id = 7) =>
  eth(GW_MAC, A, 0x0800, ip4({ src: podIp(2), dst: '10.96.0.10', proto: 17, id, mf, offset, payload: pattern(size) }));

const CASES: Case[] = [
  { reason: 'eth_truncated', what: '13-byte frame', frame: { port: 0, frame: plainUdp().subarray(0, 13) } },
  { reason: 'eth_truncated', what: 'vnet header and no frame at all', frame: { port: 0, frame: new Uint8Array(0) } },
  { reason: 'vlan_truncated', what: '802.1Q type, 16 bytes', frame: { port: 0, frame: eth(B, A, 0x8100, hex('a064')) } },
  { reason: 'vlan_truncated', what: '802.1ad type, 17 bytes', frame: { port: 0, frame: eth(B, A, 0x88a8, hex('0ffe08')) } },
  { reason: 'bad_vnet_hdr', what: 'gso_type 2 (unknown)', frame: { port: 0, frame: plainUdp(), vnet: vnet({ gsoType: 2, gsoSize: 1000 }) } },
  { reason: 'bad_vnet_hdr', what: 'GSO with gso_size 0', frame: { port: 0, frame: plainUdp(), vnet: vnet({ gsoType: 1 }) } },
  { reason: 'bad_vnet_hdr', what: 'NEEDS_CSUM field 72+6 in a 78-byte frame', frame: { port: 0, frame: plainUdp(), vnet: vnet({ flags: 1, csumStart: 72, csumOffset: 6 }) } },
  { reason: 'invalid_src_mac', what: 'broadcast source', frame: { port: 0, frame: udpFrame(B, BCAST) } },
  { reason: 'invalid_src_mac', what: 'multicast source', frame: { port: 0, frame: udpFrame(B, '01:00:5e:00:00:01') } },
  { reason: 'invalid_src_mac', what: 'all-zero source', frame: { port: 0, frame: udpFrame(B, '00:00:00:00:00:00') } },
  { reason: 'ipv4_truncated', what: 'scapy packet missing its last 8 bytes', frame: { port: 0, frame: eth(B, A, 0x0800, hex(IPV4_SHORT_PAYLOAD.hex)) } },
  { reason: 'ipv4_truncated', what: '19 bytes of IPv4', frame: { port: 0, frame: plainUdp().subarray(0, 14 + 19) } },
  { reason: 'ipv4_bad_version', what: 'version 6 under ethertype 0x0800', frame: { port: 0, frame: ipPatch(plainUdp(), 0, 0x65) } },
  { reason: 'ipv4_bad_ihl', what: 'IHL 4', frame: { port: 0, frame: ipPatch(plainUdp(), 0, 0x44) } },
  { reason: 'ipv4_bad_total_len', what: 'total length 19', frame: { port: 0, frame: ipPatch(ipPatch(plainUdp(), 2, 0), 3, 19) } },
  { reason: 'ipv4_bad_checksum', what: 'header checksum off by one bit', frame: { port: 0, frame: (() => { const f = plainUdp(); f[25] ^= 1; return f; })() } },
  { reason: 'arp_malformed', what: 'scapy ARP cut to 27 bytes', frame: { port: 0, frame: hex(ARP_TRUNCATED.hex) } },
  { reason: 'arp_malformed', what: 'htype 6', frame: { port: 0, frame: (() => { const f = hex(ARP_REQUEST_FOR_GW.hex); f[15] = 6; return f; })() } },
  { reason: 'oversize', what: 'unicast to a learned port, 1501 bytes of IPv4', setup: learnB, frame: { port: 0, frame: udpFrame(B, A, 1501) } },
  { reason: 'same_port', what: 'unicast to a MAC on the ingress port', setup: learnB, frame: { port: 1, frame: udpFrame(B, podMac(7)) } },
  { reason: 'no_destination', what: 'broadcast with no other port', ports: 1, frame: { port: 0, frame: udpFrame(BCAST, A) } },
  { reason: 'unknown_ethertype', what: 'IPv6 ethertype to the gateway MAC', frame: { port: 0, frame: eth(GW_MAC, A, 0x86dd) } },
  { reason: 'no_route', what: 'IPv4 to the gateway MAC for 8.8.8.8', frame: { port: 0, frame: toGw(1, icmp(8, 0, 1), '8.8.8.8') }, icmp: [3, 0] },
  { reason: 'icmp_malformed', what: 'scapy echo with 7 ICMP bytes', frame: { port: 0, frame: hex(ICMP_TRUNCATED.hex) } },
  { reason: 'icmp_malformed', what: 'echo with a bad ICMP checksum', frame: { port: 0, frame: (() => { const f = hex(ICMP_ECHO_REQUEST.hex); f[37] ^= 0x10; return f; })() } },
  { reason: 'gateway_unhandled', what: 'UDP to the gateway address', frame: { port: 0, frame: toGw(17, hex('303900350008')) } },
  { reason: 'gateway_unhandled', what: 'ICMP timestamp request to the gateway', frame: { port: 0, frame: toGw(1, icmp(13, 0, 0x10001, new Uint8Array(12))) } },
  { reason: 'gateway_unhandled', what: 'ARP reply to the gateway MAC', frame: { port: 0, frame: (() => { const f = hex(ARP_REPLY_FROM_GW.hex); f.set(hex('0a580af40001'), 0); f.set(hex('0a580af40009'), 6); f[14 + 8 + 5] = 9; return f; })() } },
  { reason: 'bad_port', what: 'port 5: in range, not attached', frame: { port: 5, frame: plainUdp() } },
  { reason: 'bad_port', what: 'port 200: beyond maxPorts', frame: { port: 200, frame: plainUdp() } },
  { reason: 'ttl_exceeded', what: 'routed with TTL 1', frame: { port: 0, frame: routed({ ttl: 1 }) }, icmp: [11, 0] },
  { reason: 'no_neighbor', what: 'routed to a pod of this node with no known MAC', frame: { port: 0, frame: routed({ dst: podIp(50) }) }, icmp: [3, 1] },
  { reason: 'frag_needed', what: 'DF, 1451 bytes, into a VXLAN tunnel of MTU 1450', frame: { port: 0, frame: routed({ df: true, size: 1451 }) }, icmp: [3, 4] },
  { reason: 'not_for_us', what: 'underlay: VXLAN to another node\'s MAC', frame: { port: UL, frame: fromPeer({ dstMac: '0a:58:ac:1f:ff:03' }) } },
  { reason: 'not_for_us', what: 'underlay: our MAC, another node\'s IP', frame: { port: UL, frame: fromPeer({ dstIp: '172.31.255.3' }) } },
  { reason: 'underlay_unhandled', what: 'underlay: UDP to port 4789 on our underlay IP (VXLAN is on 8472)', frame: { port: UL, frame: fromPeer({ dport: 4789 }) } },
  { reason: 'not_for_us', what: 'underlay: ARP request for another node (flooded by the bridge)', frame: { port: UL, frame: (() => { const f = hex(ARP_REQUEST_FOR_GW.hex); f.set([172, 31, 255, 9], 14 + 24); return f; })() } },
  { reason: 'vxlan_malformed', what: 'underlay: VXLAN without the I flag', frame: { port: UL, frame: fromPeer({ flags: 0 }) } },
  { reason: 'vxlan_malformed', what: 'underlay: VXLAN header cut to 6 bytes', frame: { port: UL, frame: (() => {
    const f = fromPeer().subarray(0, 14 + 20 + 8 + 6).slice();
    f[17] = 20 + 8 + 6; f[24] = f[25] = 0; const c = refChecksum(f.subarray(14, 34)); f[24] = c >> 8; f[25] = c & 0xff; // IP total length
    f[38] = 0; f[39] = 14; // UDP length
    return f;
  })() } },
  { reason: 'vxlan_bad_checksum', what: 'underlay: VXLAN with an outer UDP checksum that is not 0 and wrong', frame: { port: UL, frame: (() => { const f = fromPeer(); f[40] = 0x12; f[41] = 0x34; return f; })() } },
  { reason: 'tunnel_ecn_not_ect', what: 'underlay: VXLAN with outer ECN CE around a Not-ECT inner packet (RFC 6040)', frame: { port: UL, frame: (() => { const f = fromPeer(); f[15] = 3; f[24] = f[25] = 0; const c = refChecksum(f.subarray(14, 34)); f[24] = c >> 8; f[25] = c & 0xff; return f; })() } },
  { reason: 'vlan_no_device', what: '802.1Q VID 100 to the gateway MAC (no VLAN device: not routed)', frame: { port: 0, frame: (() => { const f = routed(); return Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, 0x00, 0x64, ...f.subarray(12)]); })() } },
  { reason: 'vxlan_bad_vni', what: 'underlay: VNI 2 where we serve VNI 1', frame: { port: UL, frame: fromPeer({ vni: 2 }) } },
  { reason: 'vxlan_not_for_vtep', what: 'underlay: inner frame to another VTEP MAC', frame: { port: UL, frame: fromPeer({ innerDst: '0e:00:00:00:00:09' }) } },
  { reason: 'gso_unsupported', what: 'UDP (UFO) super-frame into VXLAN, underlay without GSO', setup: segOn, frame: superFrame({ proto: 17, gsoType: 3 }) },
  { reason: 'gso_malformed', what: 'gso_type TCPV4 on a UDP packet, underlay without GSO', setup: segOn, frame: superFrame({ proto: 17, gsoType: 1 }) },
  {
    reason: 'gso_segment_oversize', what: 'TCP super-frame, gso_size 900, generated slots of 512 bytes, underlay without GSO',
    setup: segOn, opts: { genSlotSize: 512 }, frame: superFrame({ proto: 6, gsoType: 1, gsoSize: 900 }),
  },
  {
    reason: 'gen_pool_empty', what: 'no DF, 1600 bytes, to fragment: an earlier frame this round took the one generated slot',
    opts: { genSlots: 1 },
    earlier: (dp) => { dp.putFrame(0, 0, routed({ ttl: 1 })); dp.processRange(0, 1); }, // its ICMP error used the slot
    frame: { port: 0, frame: routed({ size: 1600 }) },
  },
  {
    // The tx list holds every rx entry and generated frame flooding to every
    // port once (index.ts configure). The fabric hands a node frames on one
    // reserved rx entry, any number of times a round, each appending: here
    // enough floods from the peer fill it, and a pod's flood finds no room.
    reason: 'tx_full', what: 'flood after the fabric\'s hand-overs this round filled the tx list',
    opts: { slots: 1, genSlots: 0 },
    earlier: (dp) => {
      dp.setNeighbor(podIp(60), podMac(60)); // a pod we have not heard from: its frames flood
      const f = () => vxlanFrame({ dstMac: UL_MAC, srcMac: PEER_UL_MAC, srcIp: PEER_UL, dstIp: UL_IP,
        inner: eth(VTEP, PEER_VTEP, 0x0800, ip4({ src: REMOTE_POD, dst: podIp(60), proto: 17, payload: pattern(30) })) });
      while (handOverKeep(dp, f()) < dp.ex.txCap());
    },
    frame: { port: 0, frame: plainUdp() },
  },
  {
    reason: 'service_no_endpoints', what: 'UDP to a Service VIP:port with no backends (rejected: ICMP port unreachable)',
    setup: (dp) => dp.addService('10.96.0.10', 53, 'udp', []),
    frame: { port: 0, frame: routed({ dst: '10.96.0.10' }) },
    icmp: [3, 3],
  },
  {
    reason: 'service_no_local_endpoints', what: 'UDP to a Local-policy frontend with no endpoint on this node (dropped, not rejected)',
    setup: (dp) => dp.addService('10.96.0.10', 53, 'udp', [], { dropWhenEmpty: true }),
    frame: { port: 0, frame: routed({ dst: '10.96.0.10' }) },
  },
  {
    reason: 'service_nat_failed', what: 'UDP to a Service VIP:port, conntrack full',
    opts: { ctCapacity: 1 },
    setup: (dp) => {
      dp.addService('10.96.0.10', 53, 'udp', [{ ip: REMOTE_POD, port: 5353 }]);
      dp.ctCreate(6, { src: '10.244.0.9', dst: '10.244.1.9', sport: 1, dport: 2 }, 0);
    },
    frame: { port: 0, frame: routed({ dst: '10.96.0.10' }) },
  },
  {
    reason: 'ct_invalid', what: 'TCP FIN+ACK to a Service VIP:port with no conntrack entry (only a SYN or an ACK may begin a flow)',
    setup: (dp) => dp.addService('10.96.0.10', 80, 'tcp', [{ ip: REMOTE_POD, port: 8080 }]),
    frame: { port: 0, frame: eth(GW_MAC, A, 0x0800, ip4({ src: podIp(2), dst: '10.96.0.10', proto: 6, payload: tcpSeg(podIp(2), '10.96.0.10', 40000, 80, 0x11) })) },
  },
  {
    reason: 'icmp_error_invalid', what: 'port unreachable with a bad ICMP checksum, routed on a node with a Service (conntrack: INVALID)',
    setup: (dp) => dp.addService('10.96.0.10', 53, 'udp', [{ ip: REMOTE_POD, port: 5353 }]),
    frame: { port: 0, frame: (() => {
      const m = icmp(3, 3, 0, routed().subarray(14, 14 + 28));
      m[2] ^= 0x01;
      return eth(GW_MAC, A, 0x0800, ip4({ src: podIp(2), dst: REMOTE_POD, proto: 1, payload: m }));
    })() },
  },
  // IP fragments on a node that tracks connections are reassembled first (stages/defrag.ts)
  {
    reason: 'frag_overlap', what: 'a fragment overlapping one already queued (the queue is discarded too)',
    setup: withService,
    earlier: (dp) => { dp.putFrame(0, 0, frag(0, true)); dp.processRange(0, 1); },
    frame: { port: 0, frame: frag(8, true) },
  },
  {
    reason: 'frag_too_big', what: 'a fragment reaching past 65535 bytes',
    setup: withService,
    frame: { port: 0, frame: frag(65528, false, 16) },
  },
  {
    reason: 'frag_no_buffer', what: 'the first fragment of a datagram while the only reassembly buffer holds another',
    setup: withService, opts: { fragBuffers: 1 },
    earlier: (dp) => { dp.putFrame(0, 0, frag(0, true, 64, 1)); dp.processRange(0, 1); },
    frame: { port: 0, frame: frag(0, true, 64, 2) },
  },
  { reason: 'policy_denied_egress', what: 'pod A, isolated for egress, sends to a remote pod', setup: isolateA('Egress'), frame: { port: 0, frame: routed() } },
  { reason: 'policy_denied_ingress', what: 'a remote pod sends (VXLAN) to pod A, isolated for ingress', setup: isolateA('Ingress'), frame: { port: UL, frame: fromPeer() } },
  {
    reason: 'frag_inconsistent', what: 'a fragment past the end the last fragment fixed',
    setup: withService,
    earlier: (dp) => { dp.putFrame(0, 0, frag(64, false)); dp.processRange(0, 1); },
    frame: { port: 0, frame: frag(128, true) },
  },
];

/** The frame's IPv4 source (untagged or one tag), or undefined. */
function ipSource(f: Uint8Array): string | undefined {
  const l2 = rd16(f, 12) === 0x8100 || rd16(f, 12) === 0x88a8 ? 18 : 14;
  if (f.length < l2 + 20 || rd16(f, l2 - 2) !== 0x0800) return undefined;
  return Array.from(f.subarray(l2 + 12, l2 + 16)).join('.');
}
/** A generated ICMP error (destination unreachable, time exceeded, parameter problem) to `to`. */
const isIcmpErrorTo = (t: Out, to: string | undefined) =>
  t.slot === GEN_SLOT && rd16(t.frame, 12) === 0x0800 && t.frame[23] === 1 && [3, 11, 12].includes(t.frame[34])
  && to !== undefined && Array.from(t.frame.subarray(30, 34)).join('.') === to;

/** The invariant: tx holds nothing but generated ICMP errors addressed to the dropped frames' sources. */
function expectOnlyIcmpErrors(tx: Out[], frames: In[]) {
  const sources = new Set(frames.map((f) => ipSource(f.frame)).filter((x) => x !== undefined));
  for (const t of tx) expect(t.slot === GEN_SLOT && [...sources].some((s) => isIcmpErrorTo(t, s)), `tx entry to port ${t.port} is not an ICMP error to a source`).toBe(true);
}

function newCaseNode(c: Case): Dataplane {
  const dp = newDataplane(c.ports ?? 4, c.opts);
  overlayNode(dp);
  c.setup?.(dp);
  return dp;
}

/** Run one case: as `run` does, or after `earlier` within the same round. */
function runCase(c: Case): Result {
  const dp = newCaseNode(c);
  if (!c.earlier) return run(dp, [c.frame]);
  dp.txClear();
  c.earlier(dp);
  const first = dp.processRange(0, 0); // tx entries already queued this round
  dp.putFrame(0, c.frame.port, c.frame.frame, c.frame.vnet);
  const before = dp.counters();
  const n = dp.processRange(0, 1);
  const tx: Out[] = [];
  for (let k = first; k < n; k++) {
    const t = dp.txBytes(k);
    tx.push({ slot: dp.txEntry(k).slot, port: t.port, frame: t.frame, vnet: t.vnet });
  }
  return { tx, ...delta(before, dp.counters()) };
}

describe('every drop reason is reachable and counted under its name', () => {
  for (const c of CASES) {
    it(`${c.reason}: ${c.what}`, () => {
      const r = runCase(c);
      expect(r.drops).toEqual({ [c.reason]: 1 });
      if (c.icmp) {
        expect(r.tx).toHaveLength(1);
        const t = r.tx[0];
        expect(isIcmpErrorTo(t, ipSource(c.frame.frame))).toBe(true);
        expect([t.frame[34], t.frame[35]], 'ICMP type, code').toEqual(c.icmp);
        expect(t.port, 'back out of the port the frame came in on').toBe(c.frame.port);
        expect(r.events).toMatchObject({ icmp_errors_sent: 1 });
      } else {
        expect(r.tx).toEqual([]);
      }
      const inPortUp = (c.frame.port < 4 && c.frame.port < (c.ports ?? 4)) || c.frame.port === UL;
      if (c.reason === 'bad_port') {
        expect(inPortUp).toBe(false);
        expect(r.ports.every((p) => Object.keys(p).length === 0)).toBe(true); // no port counter moves
      } else if (c.reason === 'oversize') {
        expect(r.ports[1]).toMatchObject({ tx_drops: 1 }); // charged to the egress port
      } else {
        expect(r.ports[c.frame.port]).toMatchObject({ rx_packets: 1, rx_drops: 1 });
      }
    });
  }

  it('the cases above cover every reason the data plane names', () => {
    const names = Object.keys(newDataplane(1).counters().drops);
    expect(names.length).toBeGreaterThan(10);
    expect([...new Set(CASES.map((c) => c.reason))].sort()).toEqual([...names].sort());
  });

  it('all of them in one batch: n frames, n drops, no tx but the ICMP errors (the invariant, batched)', () => {
    const dp = newDataplane(4);
    overlayNode(dp);
    learnB(dp);
    segOn(dp); // only super-frames and partial checksums to the underlay notice
    // the cases that need their own set-up (a single port, other sizes, earlier work this round) stay out
    const batch = CASES.filter((c) => !c.ports && !c.opts && !c.earlier && (!c.setup || c.setup === segOn)
      && !['oversize', 'same_port'].includes(c.reason)).map((c) => c.frame);
    const r = run(dp, batch);
    expectOnlyIcmpErrors(r.tx, batch);
    const errors = CASES.filter((c) => batch.includes(c.frame) && c.icmp).length;
    expect(errors).toBeGreaterThan(0);
    expect(r.tx).toHaveLength(errors);
    expect(r.events.icmp_errors_sent).toBe(errors);
    expect(r.dropTotal).toBe(batch.length);
    const want: Record<string, number> = {};
    for (const c of CASES.filter((c) => batch.includes(c.frame))) want[c.reason] = (want[c.reason] ?? 0) + 1;
    expect(r.drops).toEqual(want);
  });
});

describe('drop reasons come from one list (enum Drop in assembly/counters.ts)', () => {
  const source = readFileSync(new URL('../../assembly/counters.ts', import.meta.url), 'utf8');
  // read here on its own, not with the build's generator: NAME, or NAME = 0, one a line, up to COUNT
  const enumBody = source.slice(source.indexOf('export const enum Drop {'), source.indexOf('\n  COUNT,', source.indexOf('export const enum Drop {')));
  const members = [...enumBody.matchAll(/^\s+([A-Z][A-Z0-9_]*)\s*(?:=\s*0\s*)?,/gm)].map((m) => m[1]);

  it('the built module names each reason as its enum member in lower case, in enum order', () => {
    expect(members[0]).toBe('NONE');
    expect(members.length).toBeGreaterThan(40);
    // counters() leaves out index 0 (none): every other reason, in order
    expect(Object.keys(newDataplane(1).counters().drops)).toEqual(members.slice(1).map((m) => m.toLowerCase()));
  });

  it('the generator refuses an enum it cannot read, naming the file and the member', () => {
    expect(() => dropMembers('export const enum Drop {\n  NONE = 0,\n  BAD NAME,\n  COUNT,\n}')).toThrow(/counters\.ts: enum Drop member 1: "BAD NAME,"/);
    expect(() => dropMembers('export const enum Drop {\n  NONE = 0,\n  A = 5,\n  COUNT,\n}')).toThrow(/counters\.ts: enum Drop A = 5/);
    expect(() => dropMembers('enum Other {}')).toThrow(/counters\.ts: no `export const enum Drop/);
    expect(dropMembers(source)).toEqual(members);
  });
});
