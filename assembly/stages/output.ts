// Egress: the MTU check a bridge port applies (is_skb_forwardable in the
// kernel) and queuing onto the tx list with per-port counters.
import { VNET_HLEN, VNET_GSO_NONE, vnetGsoType } from "../wire/virtio";
import { portMtu } from "../tables/ports";
import { txPush } from "../frame";
import { Drop, countDrop, countPort, PortCtr } from "../counters";

/**
 * Send the frame at `frame` (`len` bytes, L2 header `l2len` bytes, vnet header
 * just before it) out of `port`. Returns false when it was dropped.
 */
export function output(slot: u32, port: u32, frame: usize, len: u32, l2len: u32): bool {
  const vnet = frame - VNET_HLEN;
  if (len - l2len > portMtu(port) && vnetGsoType(vnet) == VNET_GSO_NONE) {
    countDrop(Drop.OVERSIZE);
    countPort(port, PortCtr.TX_DROPS, 1);
    return false;
  }
  if (!txPush(slot, port, vnet, len + VNET_HLEN)) {
    // cannot happen while txCapacity >= slots * ports; counted, never a trap
    countDrop(Drop.NO_DESTINATION);
    return false;
  }
  countPort(port, PortCtr.TX_PACKETS, 1);
  countPort(port, PortCtr.TX_BYTES, len);
  return true;
}
