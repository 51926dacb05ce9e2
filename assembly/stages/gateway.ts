// The node's gateway address: the first address of the pod CIDR, held by the
// bridge device on a real node. It answers ARP for itself and ICMP echo;
// replies to flows masqueraded to it (and ICMP errors about them) are
// translated and forwarded; anything else addressed to its MAC is the
// routing stage's business: gatewayInput says so (GatewayNext) and the
// dispatcher (index.ts) hands the frame on.
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HLEN, ethSrc, ethVlanId, setEthDst, setEthSrc } from "../wire/ethernet";
import { arpOp, arpSha, arpSpa, arpTpa, arpEmit, ARP_OP_REQUEST, ARP_OP_REPLY } from "../wire/arp";
import { ipv4Dst, ipv4Src, ipv4HeaderLen, ipv4TotalLen, ipv4Proto, setIpv4Src, setIpv4Dst, ipv4FillChecksum, IPPROTO_ICMP, TTL } from "../wire/ipv4";
import { icmpCheckLen, icmpType, icmpChecksumOk, icmpEchoToReply, ICMP_ECHO_REQUEST, CSUM as ICMP_CSUM } from "../wire/icmp";
import { VNET_HLEN, VNET_F_NEEDS_CSUM, vnetFlags, vnetCsumStart, vnetCsumOffset, vnetFinishChecksum, vnetClear } from "../wire/virtio";
import { gwIp, gwMac } from "../node";
import { output } from "./output";
import { isIcmpError } from "./service_icmp";
import { Drop, Ev, countEv } from "../counters";
import { Step, tracing, trace } from "../trace";

/**
 * May the node's own stack take this frame? Not when it carries a VLAN tag
 * with a non-zero VID: the bridge device (and the underlay interface, and
 * flannel.1) has no VLAN device, so the kernel marks it PACKET_OTHERHOST
 * (net/core/dev.c __netif_receive_skb_core, check_vlan_id) and ip_rcv /
 * arp_rcv drop it. VID 0 (an 802.1p priority tag) is received as untagged.
 */
@inline export function vlanForHost(frame: usize, l2len: u32): bool {
  return l2len == ETH_HLEN || ethVlanId(frame, l2len) == 0;
}

/** An ARP request for the gateway address? (`arp` already validated.) */
@inline export function isArpForGateway(arp: usize): bool {
  return gwIp != 0 && arpOp(arp) == ARP_OP_REQUEST && arpTpa(arp) == gwIp;
}

/** Answer an ARP request for the gateway in place, back out of the ingress port. */
export function arpReply(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32): Drop {
  return arpReplyAs(slot, inPort, frame, len, l2len, gwIp, gwMac);
}

/** Answer an ARP request for `ip` (owned by `mac`) in place, back out of the ingress port. */
export function arpReplyAs(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32, ip: u32, mac: u64): Drop {
  const arp = frame + l2len;
  const asker = arpSha(arp);
  const askerIp = arpSpa(arp);
  arpEmit(arp, ARP_OP_REPLY, mac, ip, asker, askerIp);
  setEthDst(frame, ethSrc(frame));
  setEthSrc(frame, mac);
  vnetClear(frame - VNET_HLEN);
  countEv(Ev.ARP_REPLIES);
  if (tracing()) trace(Step.GW_ARP_REPLY, 0, ip, askerIp, 0, 0, 0, 0);
  return output(slot, inPort, frame, len, l2len);
}

/** What gatewayInput hands on besides a verdict (a Drop, >= 0: answered, or dropped). */
export const enum GatewayNext {
  /** IPv4 for another address: route it. */
  ROUTE = -1,
  /** IPv4 for the gateway address that it does not answer: route it only if Service NAT translates it, else GATEWAY_UNHANDLED. */
  ROUTE_IF_TRANSLATED = -2,
}

/**
 * A frame whose destination MAC is the gateway's. `l3type` is the payload
 * ethertype. Returns a Drop (NONE: answered) or a GatewayNext.
 */
export function gatewayInput(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32, l3type: u16): i32 {
  // not routed, not answered (the bridge would still forward it between ports, but it is for the gateway)
  if (!vlanForHost(frame, l2len)) return Drop.VLAN_NO_DEVICE;
  if (l3type == ETHERTYPE_ARP) {
    return isArpForGateway(frame + l2len) ? arpReply(slot, inPort, frame, len, l2len) : Drop.GATEWAY_UNHANDLED;
  }
  if (l3type != ETHERTYPE_IPV4) return Drop.UNKNOWN_ETHERTYPE;
  const ip = frame + l2len;
  if (ipv4Dst(ip) != gwIp) return GatewayNext.ROUTE;
  const ihl = ipv4HeaderLen(ip);
  if (ipv4Proto(ip) == IPPROTO_ICMP && !isIcmpError(ip + ihl, ipv4TotalLen(ip) - ihl)) {
    return echoReplyAs(slot, inPort, frame, len, l2len, gwIp, gwMac);
  }
  return GatewayNext.ROUTE_IF_TRANSLATED;
}

/**
 * Turn an echo request to `myIp` (owned by `myMac`) into the reply, in place,
 * back out of the ingress port. The IPv4 header is already validated.
 */
export function echoReplyAs(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32, myIp: u32, myMac: u64): Drop {
  const ip = frame + l2len;
  const ihl = ipv4HeaderLen(ip);
  const icmp = ip + ihl;
  const icmpLen = ipv4TotalLen(ip) - ihl;
  if (!icmpCheckLen(icmpLen)) return Drop.ICMP_MALFORMED;
  // a partial checksum (virtio NEEDS_CSUM) must be completed before it can be
  // checked or updated, and may only name the ICMP checksum field: anywhere
  // else it would write over a header we are about to send back
  const vnet = frame - VNET_HLEN;
  if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) != 0
      && (<usize>vnetCsumStart(vnet) != icmp - frame || vnetCsumOffset(vnet) != <u16>ICMP_CSUM)) {
    return Drop.ICMP_MALFORMED;
  }
  vnetFinishChecksum(vnet, frame, len);
  if (icmpType(icmp) != ICMP_ECHO_REQUEST) return Drop.GATEWAY_UNHANDLED;
  if (!icmpChecksumOk(icmp, icmpLen)) return Drop.ICMP_MALFORMED;
  icmpEchoToReply(icmp, icmpLen);
  const src = ipv4Src(ip);
  setIpv4Src(ip, myIp);
  setIpv4Dst(ip, src);
  store<u8>(ip + TTL, 64);
  ipv4FillChecksum(ip);
  setEthDst(frame, ethSrc(frame));
  setEthSrc(frame, myMac);
  vnetClear(frame - VNET_HLEN);
  countEv(Ev.ICMP_ECHO_REPLIES);
  if (tracing()) trace(Step.GW_ECHO_REPLY, 0, myIp, src, 0, 0, 0, 0);
  return output(slot, inPort, frame, len, l2len);
}
