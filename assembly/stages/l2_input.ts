// Ingress checks every frame from a pod meets before any decision (the
// virtio-net header is checked before, for every port): the Ethernet header, the source MAC (then learned), and, because a
// Kubernetes node runs with br_netfilter (bridged IPv4 goes through the same
// checks as routed IPv4, ip_rcv style), the IPv4 header and ARP shape.
import { ethHeaderLen, ethSrc, ethPayloadType, ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_ARP } from "../wire/ethernet";
import { ipv4Check, IPV4_OK, IPV4_TRUNCATED, IPV4_BAD_VERSION, IPV4_BAD_IHL, IPV4_BAD_TOTAL_LEN } from "../wire/ipv4";
import { arpCheck } from "../wire/arp";
import { vnetGsoType, VNET_GSO_NONE } from "../wire/virtio";
import { fdbLearn } from "../tables/mac_table";
import { nowMs } from "../clock";
import { Drop, Ev, countEv } from "../counters";

/**
 * The Ethernet header's length (> 0) when the L2 checks pass (the source MAC
 * is learned), else the drop reason negated: -Drop.X.
 */
export function l2Input(inPort: u32, vnet: usize, frame: usize, len: u32): i32 {
  const l2len = ethHeaderLen(frame, len);
  if (l2len == 0) return -<i32>(len < ETH_HLEN ? Drop.ETH_TRUNCATED : Drop.VLAN_TRUNCATED);
  const src = ethSrc(frame);
  // group bit set, or all zero: not a station address (is_valid_ether_addr)
  if ((src & 1) != 0 || src == 0) return -<i32>Drop.INVALID_SRC_MAC;
  if (vnetGsoType(vnet) != VNET_GSO_NONE) countEv(Ev.GSO_FRAMES);
  fdbLearn(src, inPort, nowMs);
  return <i32>l2len;
}

/** L3 shape checks for the payload; Drop.NONE when fine. */
export function l3Check(frame: usize, len: u32, l2len: u32, l3type: u16): Drop {
  if (l3type == ETHERTYPE_IPV4) {
    const r = ipv4Check(frame + l2len, len - l2len);
    if (r == IPV4_OK) return Drop.NONE;
    if (r == IPV4_TRUNCATED) return Drop.IPV4_TRUNCATED;
    if (r == IPV4_BAD_VERSION) return Drop.IPV4_BAD_VERSION;
    if (r == IPV4_BAD_IHL) return Drop.IPV4_BAD_IHL;
    if (r == IPV4_BAD_TOTAL_LEN) return Drop.IPV4_BAD_TOTAL_LEN;
    return Drop.IPV4_BAD_CHECKSUM;
  }
  if (l3type == ETHERTYPE_ARP) {
    return arpCheck(frame + l2len, len - l2len) ? Drop.NONE : Drop.ARP_MALFORMED;
  }
  return Drop.NONE;
}

