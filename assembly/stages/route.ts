// IPv4 forwarding, as the node's kernel does it for pod traffic: a packet
// sent to the gateway MAC for another address, or decapsulated from another
// node. TTL check, longest-prefix match, MTU check against the route's egress
// (tunnel MTU for overlays), TTL decrement (RFC 1624), then out: on the local
// bridge, into a tunnel, or straight onto the underlay (host-gw).
import { ETH_HLEN, setEthDst, setEthSrc } from "../wire/ethernet";
import { ipv4Dst, ipv4Ttl, ipv4TotalLen, ipv4HeaderLen, ipv4FlagsFrag, ipv4DecTtl, ipv4FillChecksum, FLAG_DF, FLAG_MF, FRAG_OFFSET_MASK, FLAGS_FRAG, TOTAL_LEN } from "../wire/ipv4";
import { setBe16 } from "../wire/checksum";
import { ICMP_TIME_EXCEEDED, ICMP_DEST_UNREACH, ICMP_CODE_NET_UNREACH, ICMP_CODE_HOST_UNREACH, ICMP_CODE_FRAG_NEEDED } from "../wire/icmp";
import { VNET_HLEN, VNET_GSO_NONE, VNET_F_NEEDS_CSUM, vnetGsoType, vnetFlags, vnetCsumStart, vnetCsumOffset, vnetFinishChecksum, vnetClear } from "../wire/virtio";
import { fibLookup, routeKind, ROUTE_NONE, RouteKind } from "../tables/fib";
import { neighLookup, NO_MAC } from "../tables/neighbors";
import { fdbLookup, NO_PORT } from "../tables/mac_table";
import { portMtu } from "../tables/ports";
import { nowMs } from "../clock";
import { genAlloc, genFree, genFrameCapacity, moveFrame, GEN_SLOT } from "../frame";
import { ulPort, ulSegment } from "../node";
import { gwMac } from "./gateway";
import { bridgeForward } from "./bridge";
import { encapVxlan, encapIpip, hostGwOut, VXLAN_L3_OVERHEAD, IPIP_L3_OVERHEAD } from "./encap";
import { icmpError } from "./icmp_error";
import { gsoSegment, gsoSegmentIpLen } from "./gso";
import { serviceNat, natApplied } from "./service_nat";
import { policyCheck } from "./policy";
import { needsDefrag, defragment } from "./defrag";
import { fqFrame, fqLen, fqL2len, fqMaxSize, fqDf } from "../tables/frag_queue";
import { Drop, Ev, countEv, countDrop } from "../counters";
import { Step, MtuVerdict, tracing, trace } from "../trace";
import { routePrefix, routeNextHop } from "../tables/fib";

/** Ingress port value for frames that came from no bridge port (routed, generated): excludes nothing from a flood. */
export const NO_INGRESS: u32 = 0xffffffff;

/**
 * Forward the IPv4 packet at `frame + l2len`. The header is already validated.
 * `unlessNat` (not NONE) is for packets addressed to the node itself (its
 * gateway or underlay address): only a Service translation (a NodePort, a
 * masqueraded flow's reply) makes them forwardable; otherwise that drop.
 */
export function ipForward(slot: u32, frame: usize, len: u32, l2len: u32, unlessNat: Drop = Drop.NONE): Drop {
  if (l2len != ETH_HLEN) {
    // only a priority tag (VID 0) gets here (gateway.ts vlanForHost drops the others,
    // as the kernel without a VLAN device does); routed frames leave untagged:
    // drop the tag by sliding the MACs over it
    memory.copy(frame + 4, frame, 12);
    // a partial checksum aimed into the MAC header or tag is garbage, not ours to drop quietly
    if (moveFrame(frame, frame + 4)) return Drop.BAD_VNET_HDR;
    frame += 4;
    len -= 4;
    l2len = ETH_HLEN;
  }
  // fragments are reassembled before conntrack (defrag.ts); the datagram leaves refragmented
  let fragMax: u32 = 0;
  let fragDf = false;
  if (needsDefrag(frame + l2len)) {
    const d = defragment(frame, len, l2len);
    if (d != Drop.NONE) return d;
    frame = fqFrame;
    len = fqLen;
    l2len = fqL2len;
    fragMax = fqMaxSize;
    fragDf = fqDf;
  }
  const ip = frame + l2len;
  // Service DNAT / un-DNAT before the route lookup (kube-proxy's PREROUTING)
  const nat = serviceNat(frame, len, l2len);
  if (nat != Drop.NONE) return nat;
  if (unlessNat != Drop.NONE && !natApplied) return unlessNat;
  // NetworkPolicy on the translated destination: egress of a pod here, ingress of a pod here
  const pol = policyCheck(frame, len, l2len);
  if (pol != Drop.NONE) return pol;
  if (ipv4Ttl(ip) <= 1) {
    if (tracing()) trace(Step.TTL, 0, <u32>ipv4Ttl(ip), 0, 0, 0, 0, 0);
    icmpError(frame, len, l2len, ICMP_TIME_EXCEEDED, 0, 0);
    return Drop.TTL_EXCEEDED;
  }
  const r = fibLookup(ipv4Dst(ip));
  if (r == ROUTE_NONE) {
    if (tracing()) trace(Step.NO_ROUTE, 0, ipv4Dst(ip), 0, 0, 0, 0, 0);
    icmpError(frame, len, l2len, ICMP_DEST_UNREACH, ICMP_CODE_NET_UNREACH, 0);
    return Drop.NO_ROUTE;
  }
  // the MTU check comes before the TTL decrement, as in the kernel's ip_forward
  const mtu = routeMtu(r, ipv4Dst(ip));
  const ipLen = ipv4TotalLen(ip);
  const gso = vnetGsoType(frame - VNET_HLEN) != VNET_GSO_NONE;
  if (gso && ulSegment && routeKind(r) != RouteKind.LOCAL) {
    // segmented before it goes out (routeTo): it is the segments that must fit,
    // as the kernel's ip_forward checks (ip_exceeds_mtu, skb_gso_validate_network_len).
    // Without DF they are fragmented instead (gsoSegment).
    if (gsoSegmentIpLen(frame, len, l2len) > mtu && (ipv4FlagsFrag(ip) & FLAG_DF) != 0) {
      if (tracing()) traceRoute(r, ip, MtuVerdict.FRAG_NEEDED, gsoSegmentIpLen(frame, len, l2len), mtu);
      icmpError(frame, len, l2len, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, mtu);
      return Drop.FRAG_NEEDED;
    }
  }
  if (fragMax != 0) {
    // a reassembled datagram: DF fragments bigger than the next hop get
    // fragmentation needed (ip_exceeds_mtu with frag_max_size); it leaves in
    // fragments no larger than the largest that came in (ip_fragment), with
    // DF when they had it
    if (fragDf && fragMax > mtu) {
      if (tracing()) traceRoute(r, ip, MtuVerdict.FRAG_NEEDED, fragMax, mtu);
      icmpError(frame, len, l2len, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, mtu);
      return Drop.FRAG_NEEDED;
    }
    const size = min(mtu, fragMax);
    if (tracing()) traceRoute(r, ip, MtuVerdict.FRAGMENT, ipLen, size);
    ipv4DecTtl(ip);
    return fragment(r, frame, len, l2len, size, fragDf);
  }
  if (ipLen > mtu && !gso) {
    if ((ipv4FlagsFrag(ip) & FLAG_DF) != 0) {
      if (tracing()) traceRoute(r, ip, MtuVerdict.FRAG_NEEDED, ipLen, mtu);
      icmpError(frame, len, l2len, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, mtu);
      return Drop.FRAG_NEEDED;
    }
    if (tracing()) traceRoute(r, ip, MtuVerdict.FRAGMENT, ipLen, mtu);
    ipv4DecTtl(ip);
    return fragment(r, frame, len, l2len, mtu);
  }
  if (tracing()) traceRoute(r, ip, gso ? MtuVerdict.GSO : MtuVerdict.FITS, ipLen, mtu);
  ipv4DecTtl(ip);
  countEv(Ev.ROUTED);
  return routeTo(r, slot, NO_INGRESS, frame, len, l2len);
}

/** The route decision (before the TTL decrement): ttl, then the route and its MTU, then the MTU verdict. */
function traceRoute(r: i32, ip: usize, verdict: MtuVerdict, ipLen: u32, mtu: u32): void {
  trace(Step.TTL, 0, <u32>ipv4Ttl(ip), 0, 0, 0, 0, 0);
  const p = routePrefix(r);
  trace(Step.ROUTE, 0, <u32>r, p < 0 ? 0 : <u32>(p >> 8), p < 0 ? 0 : <u32>(p & 0xff), routeKind(r), routeNextHop(r), mtu);
  trace(Step.MTU, verdict, ipLen, mtu, 0, 0, 0, 0);
}

/**
 * The largest IPv4 packet route `r` carries to `dst`: the tunnel MTU for
 * overlays, the underlay port's for host-gw, and for a local route the MTU of
 * the pod port the bridge will use (neighbour, then FDB), as the kernel's
 * ip_forward checks cni0's: DF gets fragmentation needed, the rest fragments.
 * A destination whose port is not known yet floods, and each port checks its own.
 */
export function routeMtu(r: i32, dst: u32): u32 {
  const kind = routeKind(r);
  if (kind == RouteKind.LOCAL) {
    const mac = neighLookup(dst);
    if (mac == NO_MAC) return 0xffff;
    const port = fdbLookup(mac, nowMs);
    return port == NO_PORT ? 0xffff : portMtu(<u32>port);
  }
  const ul = portMtu(ulPort);
  if (kind == RouteKind.VXLAN) return ul - VXLAN_L3_OVERHEAD;
  if (kind == RouteKind.IPIP) return ul - IPIP_L3_OVERHEAD;
  return ul;
}

/** Send a (forwarded or generated) packet along route `r`. No TTL or MTU logic here. */
export function routeTo(r: i32, slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32): Drop {
  const kind = routeKind(r);
  if (kind == RouteKind.LOCAL) {
    const dst = ipv4Dst(frame + l2len);
    const mac = neighLookup(dst);
    if (mac == NO_MAC) {
      if (tracing()) trace(Step.NEIGH, 0, dst, 0, 0, 0, 0, 0);
      icmpError(frame, len, l2len, ICMP_DEST_UNREACH, ICMP_CODE_HOST_UNREACH, 0);
      return Drop.NO_NEIGHBOR;
    }
    setEthDst(frame, mac);
    setEthSrc(frame, gwMac);
    return bridgeForward(slot, inPort, frame, len, l2len);
  }
  if (ulSegment) {
    // the underlay is a real device that takes neither super-frames nor
    // partial checksums under a tunnel header (it would segment or checksum
    // the outer packet): do in software what the kernel does before such a device
    const vnet = frame - VNET_HLEN;
    if (vnetGsoType(vnet) != VNET_GSO_NONE) return gsoSegment(r, frame, len, l2len);
    if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) != 0) {
      // ingress checked the range, but a stripped VLAN tag moved csum_start back
      if (<u32>vnetCsumStart(vnet) + <u32>vnetCsumOffset(vnet) + 2 > len) return Drop.BAD_VNET_HDR;
      vnetFinishChecksum(vnet, frame, len);
    }
    // a complete frame: nothing asked of the device (a TAP refuses a write whose
    // hdr_len, meaningful or not, exceeds the frame; DATA_VALID would vouch for
    // the outer packet's checksum)
    vnetClear(vnet);
  }
  if (kind == RouteKind.VXLAN) return encapVxlan(r, slot, frame, len);
  if (kind == RouteKind.IPIP) return encapIpip(r, slot, frame, len);
  return hostGwOut(r, slot, frame, len);
}

/**
 * Split a non-DF packet too big for `mtu` into fragments (RFC 791), each in a
 * generated slot, each routed along `r` (r < 0: bridged from `inPort`). The
 * original is not sent, and loses its uncopied options (see below). `df`
 * sets DF on every fragment: a reassembled train whose largest fragment had
 * it (Linux IPSKB_FRAG_PMTU).
 */
export function fragment(r: i32, frame: usize, len: u32, l2len: u32, mtu: u32, df: bool = false, inPort: u32 = NO_INGRESS): Drop {
  const ip = frame + l2len;
  // a partial checksum (virtio NEEDS_CSUM) covers the whole datagram, which no
  // fragment holds, and fragments carry no vnet header: finish it first, as
  // the kernel's ip_do_fragment does (skb_checksum_help)
  const vnet = frame - VNET_HLEN;
  if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) != 0) {
    // ingress checked the range, but a stripped VLAN tag moved csum_start back
    // 4 bytes: one that pointed into the MAC header has wrapped
    if (<u32>vnetCsumStart(vnet) + <u32>vnetCsumOffset(vnet) + 2 > len) return Drop.BAD_VNET_HDR;
    vnetFinishChecksum(vnet, frame, len);
  }
  const ihl = ipv4HeaderLen(ip);
  const payload = ipv4TotalLen(ip) - ihl;
  const ff = ipv4FlagsFrag(ip);
  const baseOffset = <u32>(ff & FRAG_OFFSET_MASK);
  const moreAfter = (ff & FLAG_MF) != 0;
  const chunkMax = fragmentChunk(mtu, ihl, l2len);
  if (chunkMax == 0) return Drop.FRAG_NEEDED;
  // all fragments or none: a datagram missing a piece is lost anyway, and costs the wire
  if ((payload + chunkMax - 1) / chunkMax > genFree()) return Drop.GEN_POOL_EMPTY;
  let off: u32 = 0;
  while (off < payload) {
    const chunk = min(chunkMax, payload - off);
    const v = genAlloc();
    if (v == 0) return Drop.GEN_POOL_EMPTY;
    const g = v + VNET_HLEN;
    memory.copy(g, frame, l2len + ihl);
    memory.copy(g + l2len + ihl, ip + ihl + off, chunk);
    const gip = g + l2len;
    const last = off + chunk >= payload;
    setBe16(gip + TOTAL_LEN, <u16>(ihl + chunk));
    setBe16(gip + FLAGS_FRAG, <u16>(((!last || moreAfter) ? FLAG_MF : 0) | (df ? FLAG_DF : 0) | ((baseOffset + (off >> 3)) & FRAG_OFFSET_MASK)));
    ipv4FillChecksum(gip);
    // later fragments carry only the options with the copy flag (RFC 791);
    // of a packet that is itself a later fragment, they already do
    if (off == 0 && baseOffset == 0 && ihl > 20) optionsFragment(ip, ihl);
    countEv(Ev.FRAGMENTS_SENT);
    const glen = l2len + ihl + chunk;
    const d = r < 0 ? bridgeForward(GEN_SLOT, inPort, g, glen, l2len) : routeTo(r, GEN_SLOT, NO_INGRESS, g, glen, l2len);
    if (d != Drop.NONE) countDrop(d);
    off += chunk;
  }
  return Drop.NONE;
}

/**
 * Overwrite the options without the copy flag (type bit 0x80) with NOOPs,
 * in the header at `ip` of `ihl` bytes: the header length stays, as Linux's
 * ip_options_fragment does it (RFC 791 allows dropping them or this). Stops
 * at End of Options or a malformed length, leaving the rest as it is.
 */
function optionsFragment(ip: usize, ihl: u32): void {
  let o: u32 = 20;
  while (o < ihl) {
    const t = <u32>load<u8>(ip + o);
    if (t == 0) return; // End of Options
    if (t == 1) { o++; continue; } // NOOP
    if (o + 1 >= ihl) return;
    const olen = <u32>load<u8>(ip + o + 1);
    if (olen < 2 || o + olen > ihl) return;
    if ((t & 0x80) == 0) memory.fill(ip + o, 1, olen);
    o += olen;
  }
}

/**
 * The payload each fragment carries (a multiple of 8; 0 when none fits):
 * a fragment must fit the route's MTU and a generated slot (smaller ones are fine).
 */
export function fragmentChunk(mtu: u32, ihl: u32, l2len: u32): u32 {
  const fit = min(mtu, genFrameCapacity() - l2len);
  return fit > ihl ? (fit - ihl) & ~7 : 0;
}
