// Packets the node originates (ICMP errors, TCP resets): built in a
// generated slot with the gateway as their Ethernet source, then routed like
// any other packet (the routing stage fills the destination MAC).
import { ethEmit, ETHERTYPE_IPV4, ETH_HLEN } from "../wire/ethernet";
import { ipv4Emit } from "../wire/ipv4";
import { VNET_HLEN } from "../wire/virtio";
import { genAlloc, GEN_SLOT } from "../frame";
import { nextIpId } from "../node";
import { gwMac } from "./gateway";
import { routeTo, NO_INGRESS } from "./route";
import { Drop, Ev, countEv } from "../counters";

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

/** Route generated frame `g` (from genIpv4, `len` bytes) along route `r`; not sent: counted (generated_unsent). */
export function sendGenerated(r: i32, g: usize, len: u32): void {
  const d = routeTo(r, GEN_SLOT, NO_INGRESS, g, len, ETH_HLEN);
  if (d != Drop.NONE) countEv(Ev.GENERATED_UNSENT);
}
