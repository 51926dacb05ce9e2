// Onto the underlay: VXLAN (RFC 7348) and IP-in-IP (RFC 2003) encapsulation
// in place (the frame start moves back into the slot's headroom; nothing is
// copied), and host-gw (a plain MAC rewrite, as flannel's host-gw does).
import { ethEmit, setEthDst, setEthSrc, ETHERTYPE_IPV4, ETH_HLEN } from "../wire/ethernet";
import { ipv4Emit, ipv4PseudoSum, ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, ipv4Ttl, ipv4Tos, FLAG_DF, FLAG_MF, FRAG_OFFSET_MASK, IPPROTO_UDP, IPPROTO_TCP, IPPROTO_IPIP,
  ECN_MASK, ECN_CE, ECN_ECT_0 } from "../wire/ipv4";
import { udpEmit } from "../wire/udp";
import { fold16, setBe16 } from "../wire/checksum";
import { VNET_HLEN, VNET_F_UDP_TUNNEL_CSUM, vnetFlags, FLAGS } from "../wire/virtio";
import { isTunnelGso } from "./tunnel_gso";
import { vxlanEmit, VXLAN_OVERHEAD } from "../wire/vxlan";
import { routeNextHop, routeVtepMac } from "../tables/fib";
import { neighLookup, NO_MAC } from "../tables/neighbors";
import { moveFrame } from "../frame";
import { ulPort, ulIp, ulMac, vtepMac, vni, vxlanPort, nextIpId, ulTunnelGsoCsum } from "../node";
import { output } from "./output";
import { Drop, Ev, countEv } from "../counters";
// (the ENCAP trace record is made from the queued frame by the traced loop: trace.ts traceTx)
import { Step, tracing, trace } from "../trace";

/** What each tunnel adds in front of the inner IPv4 packet, counted in the underlay's IP MTU. */
export const VXLAN_L3_OVERHEAD: u32 = VXLAN_OVERHEAD;  // outer IP+UDP+VXLAN (36) + the inner Ethernet header (14)
export const IPIP_L3_OVERHEAD: u32 = 20;

// Linux's default ip_local_port_range, which vxlan's udp_flow_src_port draws from
const SPORT_MIN: u32 = 32768;
const SPORT_SPAN: u32 = 61000 - 32768;

/**
 * Outer UDP source port from the inner flow, so underlay ECMP spreads flows
 * and keeps each one on a path (RFC 7348 section 5). Hashes addresses,
 * protocol and, for unfragmented TCP/UDP, the ports.
 */
export function flowSourcePort(ip: usize, avail: u32): u16 {
  let h: u32 = ipv4Src(ip) * 0x9E3779B1;
  h ^= ipv4Dst(ip) * 0x85EBCA77;
  const proto = ipv4Proto(ip);
  h ^= <u32>proto * 0xC2B2AE3D;
  const ihl = ipv4HeaderLen(ip);
  // not for any fragment, the first included (MF set, offset 0): every fragment
  // of a datagram must take the same path, and only the first carries ports
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && (ipv4FlagsFrag(ip) & (FRAG_OFFSET_MASK | FLAG_MF)) == 0 && avail >= ihl + 4) {
    h ^= load<u32>(ip + ihl) * 0x27D4EB2F;
  }
  h ^= h >> 15;
  h *= 0x2C1B3C6D;
  h ^= h >> 13;
  return <u16>(SPORT_MIN + <u32>((<u64>h * <u64>SPORT_SPAN) >> 32));
}

/**
 * The outer TOS byte for an inner packet with TOS `inner`, as Linux's
 * tunnels (tos 0, not "inherit") write it: ip_tunnel_ecn_encap ->
 * INET_ECN_encapsulate (include/net/inet_ecn.h): DSCP 0, the inner ECN
 * field copied, except CE, which goes out as ECT(0) (RFC 6040 compatibility
 * mode: a congestion mark is not re-reported by the tunnel).
 */
@inline export function ecnEncap(inner: u8): u8 {
  const e = inner & ECN_MASK;
  return e == ECN_CE ? ECN_ECT_0 : e;
}

/** Underlay MAC of route `r`'s next hop node, or NO_MAC. */
@inline function nextHopMac(r: i32): u64 {
  const m = neighLookup(routeNextHop(r));
  if (m == NO_MAC && tracing()) trace(Step.NEIGH, 0, routeNextHop(r), 0, 0, 0, 0, 0);
  return m;
}

export function encapVxlan(r: i32, slot: u32, frame: usize, len: u32): Drop {
  const nhMac = nextHopMac(r);
  if (nhMac == NO_MAC) return Drop.NO_NEIGHBOR;
  // inner Ethernet: our VTEP to theirs, as flannel's neighbour entries make the kernel write it
  setEthSrc(frame, vtepMac);
  setEthDst(frame, routeVtepMac(r));
  const sport = flowSourcePort(frame + ETH_HLEN, len - ETH_HLEN);
  const tos = ecnEncap(ipv4Tos(frame + ETH_HLEN));
  const outer = frame - VXLAN_OVERHEAD;
  moveFrame(frame, outer);
  // a GSO super-frame can exceed 64 KiB once wrapped: the length fields saturate
  // (the peer reads the inner frame's own lengths; the kernel does the same for big TCP)
  ethEmit(outer, nhMac, ulMac, ETHERTYPE_IPV4);
  // TTL 64: vxlan's ttl 0 means the default hop limit (vxlan_xmit_one: ip4_dst_hoplimit)
  ipv4Emit(outer + 14, min(len + 36, 0xffff), nextIpId(), 0, 64, IPPROTO_UDP, ulIp, routeNextHop(r), tos);
  udpEmit(outer + 34, sport, vxlanPort, min(len + 16, 0xffff)); // checksum 0: Linux vxlan's IPv4 default
  const vnet = outer - VNET_HLEN;
  if (ulTunnelGsoCsum && isTunnelGso(vnet)) {
    // each segment gets an outer UDP checksum: the field holds the pseudo-header sum over the whole
    // UDP length, which the kernel adjusts per segment (__skb_udp_tunnel_segment), as udp_set_csum leaves it
    setBe16(outer + 40, <u16>fold16(ipv4PseudoSum(ulIp, routeNextHop(r), IPPROTO_UDP, len + 16)));
    store<u8>(vnet + FLAGS, vnetFlags(vnet) | VNET_F_UDP_TUNNEL_CSUM);
  }
  vxlanEmit(outer + 42, vni);
  countEv(Ev.VXLAN_ENCAP);
  return output(slot, ulPort, outer, len + VXLAN_OVERHEAD, ETH_HLEN);
}

export function encapIpip(r: i32, slot: u32, frame: usize, len: u32): Drop {
  const nhMac = nextHopMac(r);
  if (nhMac == NO_MAC) return Drop.NO_NEIGHBOR;
  const inner = frame + ETH_HLEN;
  const innerLen = ipv4TotalLen(inner);
  // the outer IP header takes the inner Ethernet header's place and 6 bytes more
  const outer = frame - IPIP_L3_OVERHEAD;
  const df = ipv4FlagsFrag(inner) & FLAG_DF; // inherited, as Linux ipip does with pmtudisc on
  // flannel's tunl0 has ttl 0, "inherit": ip_tunnel_xmit copies the inner TTL (already lowered by this hop)
  const ttl = ipv4Ttl(inner);
  const tos = ecnEncap(ipv4Tos(inner));
  moveFrame(frame, outer);
  ethEmit(outer, nhMac, ulMac, ETHERTYPE_IPV4);
  ipv4Emit(outer + 14, min(innerLen + 20, 0xffff), nextIpId(), df, ttl, IPPROTO_IPIP, ulIp, routeNextHop(r), tos);
  countEv(Ev.IPIP_ENCAP);
  return output(slot, ulPort, outer, len + IPIP_L3_OVERHEAD, ETH_HLEN);
}

export function hostGwOut(r: i32, slot: u32, frame: usize, len: u32): Drop {
  // no next hop: a connected route (the underlay's own subnet), the destination is the neighbour
  const nh = routeNextHop(r);
  const nhMac = neighLookup(nh != 0 ? nh : ipv4Dst(frame + ETH_HLEN));
  if (nhMac == NO_MAC) {
    if (tracing()) trace(Step.NEIGH, 0, nh != 0 ? nh : ipv4Dst(frame + ETH_HLEN), 0, 0, 0, 0, 0);
    return Drop.NO_NEIGHBOR;
  }
  setEthDst(frame, nhMac);
  setEthSrc(frame, ulMac);
  countEv(Ev.HOST_GW_OUT);
  return output(slot, ulPort, frame, len, ETH_HLEN);
}
