// Frames arriving on the underlay port: this node's ARP, echo to its
// underlay address, VXLAN and IP-in-IP decapsulation (the inner packet is
// then routed, as the kernel routes what its vxlan/tunl0 device receives),
// host-gw traffic for the node's pods, and NodePort / external-address
// Service traffic to the node's address (forwarded once translated).
import { ethHeaderLen, ethPayloadType, ethDst, ethEmit, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "../wire/ethernet";
import { arpOp, arpTpa, arpSpa, arpSha, ARP_OP_REQUEST } from "../wire/arp";
import { neighSet } from "../tables/neighbors";
import { ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4PseudoSum, ipv4Tos, ipv4Checksum, setIpv4Checksum, ECN_MASK, ECN_NOT_ECT, ECN_CE, TOS,
  IPPROTO_UDP, IPPROTO_IPIP, IPPROTO_ICMP } from "../wire/ipv4";
import { udpCheck, udpDstPort, udpChecksum, udpLength } from "../wire/udp";
import { checksum, be16, csumUpdate16 } from "../wire/checksum";
import { vxlanCheck, vxlanVni, VXLAN_HLEN } from "../wire/vxlan";

import { VNET_HLEN, VNET_GSO_NONE, VNET_F_NEEDS_CSUM, VNET_F_DATA_VALID, vnetGsoType, vnetFlags } from "../wire/virtio";
import { moveFrame } from "../frame";
import { tunnelGsoStrip } from "./tunnel_gso";
import { overlay, Overlay, ulIp, ulMac, ulTunnelGso, vtepMac, vni, vxlanPort } from "../node";
import { l3Check } from "./l2_input";
import { ipForward } from "./route";
import { arpReplyAs, echoReplyAs, vlanForHost } from "./gateway";
import { isIcmpError } from "./service_icmp";
import { Drop, Ev, countEv } from "../counters";
import { Step, tracing, trace, tracePkt } from "../trace";
import { RouteKind, fibLookup, routeKind, ROUTE_NONE } from "../tables/fib";
import { ipv4Src } from "../wire/ipv4";

export function underlayInput(slot: u32, inPort: u32, frame: usize, len: u32): Drop {
  const l2len = ethHeaderLen(frame, len);
  if (l2len == 0) return len < ETH_HLEN ? Drop.ETH_TRUNCATED : Drop.VLAN_TRUNCATED;
  if (!vlanForHost(frame, l2len)) return Drop.VLAN_NO_DEVICE; // the node's interface has no VLAN device
  const type = ethPayloadType(frame, l2len);
  const bad = l3Check(frame, len, l2len, type);
  if (bad != Drop.NONE) return bad;
  if (type == ETHERTYPE_ARP) {
    const arp = frame + l2len;
    const tpa = arpTpa(arp);
    // ours: the node's address, or a LoadBalancer address this node announces (an 'announced' /32 route)
    if (tpa != ulIp && !isAnnounced(tpa)) return Drop.NOT_FOR_US; // another node's ARP, flooded by the bridge
    if (arpOp(arp) == ARP_OP_REQUEST) {
      // whoever asks for us is a neighbour we will answer (the kernel's
      // arp_process does the same): a host outside the cluster reaching a
      // NodePort gets its replies through the underlay's connected route
      const spa = arpSpa(arp);
      if (spa != 0) neighSet(spa, arpSha(arp));
      return arpReplyAs(slot, inPort, frame, len, l2len, tpa, ulMac);
    }
    return Drop.UNDERLAY_UNHANDLED;
  }
  if (ethDst(frame) != ulMac) return Drop.NOT_FOR_US;
  if (type != ETHERTYPE_IPV4) return Drop.UNKNOWN_ETHERTYPE;
  const ip = frame + l2len;
  if (ipv4Dst(ip) != ulIp) {
    // host-gw: the next hop for our pods is this node's underlay address; with
    // a tunnel overlay only a Service's external address routed to this node
    // (externalIPs, loadBalancerIP) is ours to forward, once translated
    return overlay == Overlay.HOST_GW ? ipForward(slot, frame, len, l2len) : ipForward(slot, frame, len, l2len, Drop.NOT_FOR_US);
  }
  const proto = ipv4Proto(ip);
  const ihl = ipv4HeaderLen(ip);
  const l4avail = len - l2len - ihl;
  if (proto == IPPROTO_UDP && overlay == Overlay.VXLAN && l4avail >= 8 && udpDstPort(ip + ihl) == vxlanPort) {
    const udp = ip + ihl;
    const udpAvail = l4avail;
    // a GSO super-frame's outer lengths saturate at 64 KiB: only whole frames must add up
    const gso = vnetGsoType(frame - VNET_HLEN) != VNET_GSO_NONE;
    if (!gso && !udpCheck(udp, udpAvail)) return Drop.VXLAN_MALFORMED;
    if (!gso && !outerUdpChecksumOk(frame - VNET_HLEN, ip, udp)) return Drop.VXLAN_BAD_CHECKSUM;
    return vxlanDecap(slot, frame, len, ip, udp, udpAvail);
  }
  if (proto == IPPROTO_IPIP && overlay == Overlay.IPIP) return ipipDecap(slot, frame, len, ip, ihl);
  if (proto == IPPROTO_ICMP && !isIcmpError(ip + ihl, ipv4TotalLen(ip) - ihl)) {
    return echoReplyAs(slot, inPort, frame, len, l2len, ulIp, ulMac);
  }
  // a NodePort (or an ICMP error about one of its flows): forwarded if the Service NAT translates it
  return ipForward(slot, frame, len, l2len, Drop.UNDERLAY_UNHANDLED);
}

/**
 * The outer UDP checksum, checked before decapsulation as the kernel's UDP
 * layer does for an encapsulation socket (udp_queue_rcv_one_skb: "Verify
 * checksum before giving to encap"). 0 is "none" (RFC 768; RFC 7348 5: Linux
 * vxlan sends 0 by default); a partial checksum (NEEDS_CSUM) or one the
 * sender vouched for (DATA_VALID) counts as good (skb_csum_unnecessary).
 */
function outerUdpChecksumOk(vnet: usize, ip: usize, udp: usize): bool {
  if (udpChecksum(udp) == 0 || (vnetFlags(vnet) & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) != 0) return true;
  const l = <u32>udpLength(udp);
  return checksum(udp, l, ipv4PseudoSum(ipv4Src(ip), ipv4Dst(ip), IPPROTO_UDP, l)) == 0;
}

/**
 * RFC 6040 4.2 as the kernel's tunnels apply it on receive (ip_tunnel_rcv,
 * vxlan_rcv -> INET_ECN_decapsulate, include/net/inet_ecn.h): outer CE marks
 * an ECT inner packet CE (header checksum updated, as IP_ECN_set_ce); over a
 * Not-ECT inner packet it cannot be passed on, and the packet is dropped.
 * False for that drop. `innerIp` is a validated IPv4 header.
 */
function ecnDecap(outerTos: u8, innerIp: usize): bool {
  if ((outerTos & ECN_MASK) != ECN_CE) return true;
  const t = ipv4Tos(innerIp);
  if ((t & ECN_MASK) == ECN_NOT_ECT) return false;
  if ((t & ECN_MASK) != ECN_CE) {
    const old = be16(innerIp);
    store<u8>(innerIp + TOS, t | ECN_CE);
    setIpv4Checksum(innerIp, csumUpdate16(ipv4Checksum(innerIp), old, be16(innerIp)));
  }
  return true;
}

function vxlanDecap(slot: u32, frame: usize, len: u32, ip: usize, udp: usize, udpAvail: u32): Drop {
  const vx = udp + 8;
  if (!vxlanCheck(vx, udpAvail - 8)) return Drop.VXLAN_MALFORMED;
  if (vxlanVni(vx) != vni) return Drop.VXLAN_BAD_VNI;
  const inner = vx + VXLAN_HLEN;
  const innerLen = len - <u32>(inner - frame);
  const il2 = ethHeaderLen(inner, innerLen);
  if (il2 == 0) return Drop.VXLAN_MALFORMED;
  if (ethDst(inner) != vtepMac) return Drop.VXLAN_NOT_FOR_VTEP;
  if (!vlanForHost(inner, il2)) return Drop.VLAN_NO_DEVICE; // nor has flannel.1
  const itype = ethPayloadType(inner, il2);
  if (itype != ETHERTYPE_IPV4) return Drop.UNKNOWN_ETHERTYPE;
  const bad = l3Check(inner, innerLen, il2, itype);
  if (bad != Drop.NONE) return bad;
  if (!ecnDecap(ipv4Tos(ip), inner + il2)) return Drop.TUNNEL_ECN_NOT_ECT;
  moveFrame(frame, inner);
  // a super-frame read whole from the underlay TAP is now a plain TCP one (tunnel_gso.ts)
  if (ulTunnelGso && tunnelGsoStrip(inner - VNET_HLEN)) countEv(Ev.TUNNEL_GSO_RECEIVED);
  countEv(Ev.VXLAN_DECAP);
  if (tracing()) {
    // the outer IPv4 header is still there: the inner frame (and its vnet header) start after it
    trace(Step.DECAP, RouteKind.VXLAN, ipv4Src(ip), ipv4Dst(ip), vni, 0, 0, 0);
    tracePkt(inner + il2, innerLen - il2);
  }
  return ipForward(slot, inner, innerLen, il2);
}

function ipipDecap(slot: u32, frame: usize, len: u32, ip: usize, ihl: u32): Drop {
  const innerIp = ip + ihl;
  const innerAvail = len - <u32>(innerIp - frame);
  // give the inner packet an Ethernet header in front of it, over the tail of the outer headers
  const inner = innerIp - ETH_HLEN;
  const oSrc = ipv4Src(ip);
  const oDst = ipv4Dst(ip);
  const oTos = ipv4Tos(ip); // read now: the moved vnet header lands on the outer header
  moveFrame(frame, inner);
  ethEmit(inner, ulMac, ulMac, ETHERTYPE_IPV4);
  const bad = l3Check(inner, innerAvail + ETH_HLEN, ETH_HLEN, ETHERTYPE_IPV4);
  if (bad != Drop.NONE) return bad;
  if (!ecnDecap(oTos, innerIp)) return Drop.TUNNEL_ECN_NOT_ECT;
  countEv(Ev.IPIP_DECAP);
  if (tracing()) {
    trace(Step.DECAP, RouteKind.IPIP, oSrc, oDst, 4, 0, 0, 0);
    tracePkt(innerIp, innerAvail);
  }
  return ipForward(slot, inner, innerAvail + ETH_HLEN, ETH_HLEN);
}


/** Whether `ip` is a LoadBalancer address this node announces: an exact 'announced' /32 route. */
function isAnnounced(ip: u32): bool {
  const r = fibLookup(ip);
  return r != ROUTE_NONE && routeKind(r) == RouteKind.ANNOUNCED;
}
