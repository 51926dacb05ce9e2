// IPv4 forwarding, as the node's kernel does it for pod traffic: a packet
// sent to the gateway MAC for another address, or decapsulated from another
// node. TTL check, longest-prefix match, MTU check against the route's egress
// (tunnel MTU for overlays), TTL decrement (RFC 1624), then out: on the local
// bridge, into a tunnel, or straight onto the underlay (host-gw).
// What it makes on the way (ICMP errors, fragments, GSO segments) is queued
// in generated slots: the dispatcher (index.ts) routes those after this
// packet, through routeTo, like any other.
import { ETH_HLEN, setEthDst, setEthSrc } from "../wire/ethernet";
import { ipv4Dst, ipv4Ttl, ipv4TotalLen, ipv4FlagsFrag, ipv4DecTtl, FLAG_DF } from "../wire/ipv4";
import { ICMP_TIME_EXCEEDED, ICMP_DEST_UNREACH, ICMP_CODE_NET_UNREACH, ICMP_CODE_HOST_UNREACH, ICMP_CODE_FRAG_NEEDED } from "../wire/icmp";
import { VNET_HLEN, VNET_GSO_NONE, VNET_F_NEEDS_CSUM, vnetGsoType, vnetFlags, vnetCsumStart, vnetCsumOffset, vnetFinishChecksum, vnetClear } from "../wire/virtio";
import { fibLookup, routeKind, ROUTE_NONE, RouteKind } from "../tables/fib";
import { neighLookup, NO_MAC } from "../tables/neighbors";
import { moveFrame, NO_INGRESS } from "../frame";
import { ulSegment, ulTunnelGso, gwMac } from "../node";
import { tunnelGsoFits, tunnelGsoMark } from "./tunnel_gso";
import { bridgeForward } from "./bridge";
import { encapVxlan, encapIpip, hostGwOut } from "./encap";
import { icmpError } from "./icmp_error";
import { gsoSegment, gsoSegmentIpLen } from "./gso";
import { routeMtu } from "./route_mtu";
import { fragment } from "./fragment";
import { serviceNat, NAT_DROP, NAT_TRANSLATED } from "./service_nat";
import { policyCheck } from "./policy";
import { needsDefrag, defragment } from "./defrag";
import { fqFrame, fqLen, fqL2len, fqMaxSize, fqDf } from "../tables/frag_queue";
import { Drop, Ev, countEv } from "../counters";
import { Step, MtuVerdict, tracing, trace } from "../trace";
import { routePrefix, routeNextHop } from "../tables/fib";

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
  if ((nat & NAT_DROP) != Drop.NONE) return <Drop>(nat & NAT_DROP);
  if (unlessNat != Drop.NONE && (nat & NAT_TRANSLATED) == 0) return unlessNat;
  // NetworkPolicy on the translated destination: egress of a pod here, ingress of a pod here
  const pol = policyCheck(frame, len, l2len, nat);
  if (pol != Drop.NONE) return pol;
  if (ipv4Ttl(ip) <= 1) {
    if (tracing()) trace(Step.TTL, 0, <u32>ipv4Ttl(ip), 0, 0, 0, 0, 0);
    icmpError(frame, len, l2len, ICMP_TIME_EXCEEDED, 0, 0);
    return Drop.TTL_EXCEEDED;
  }
  const r = fibLookup(ipv4Dst(ip));
  // an announced LoadBalancer address is answered (ARP), not routed: untranslated traffic to it has nowhere to go
  if (r == ROUTE_NONE || routeKind(r) == RouteKind.ANNOUNCED) {
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
    if (vnetGsoType(vnet) != VNET_GSO_NONE) {
      // unless it speaks UDP-tunnel GSO: then a TCP super-frame goes whole under
      // VXLAN and the kernel segments it (IP-in-IP has no virtio GSO type: software)
      if (kind == RouteKind.VXLAN && ulTunnelGso && tunnelGsoFits(frame, len)) {
        tunnelGsoMark(frame);
        return encapVxlan(r, slot, frame, len);
      }
      return gsoSegment(r, frame, len, l2len);
    }
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
