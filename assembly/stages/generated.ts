// Packets the node originates (ICMP errors, TCP resets): built in a
// generated slot with the gateway as their Ethernet source, then queued for
// the dispatcher, which routes them like any other packet (the routing stage
// fills the destination MAC).
import { ethEmit, ETHERTYPE_IPV4, ETH_HLEN } from "../wire/ethernet";
import { ipv4Emit } from "../wire/ipv4";
import { VNET_HLEN } from "../wire/virtio";
import { genAlloc, genQueue, NO_INGRESS } from "../frame";
import { nextIpId, gwMac } from "../node";
import { Ev, countEv } from "../counters";

// A generated frame that cannot be made or sent is counted as an event, not a
// drop: the received frame it answers is already counted under its own
// verdict (one verdict per frame, index.ts processBatch).

/**
 * A generated frame holding an IPv4 packet of `total` bytes, `proto`, from
 * `src` to `dst`, TTL 64: Ethernet and IPv4 headers written, the payload
 * (at +34) the caller's. 0 when this round's pool is used up (counted: generated_unsent).
 */
export function genIpv4(total: u32, proto: u8, src: u32, dst: u32): usize {
  const v = genAlloc();
  if (v == 0) { countEv(Ev.GENERATED_UNSENT); return 0; }
  const g = v + VNET_HLEN;
  ethEmit(g, 0, gwMac, ETHERTYPE_IPV4);
  ipv4Emit(g + ETH_HLEN, total, nextIpId(), 0, 64, proto, src, dst);
  return g;
}

/** Queue generated frame `g` (from genIpv4, `len` bytes) to go along route `r`; not sent: counted (generated_unsent). */
export function sendGenerated(r: i32, g: usize, len: u32): void {
  genQueue(g, r, NO_INGRESS, len, ETH_HLEN, false);
}
