// Frame slots and the batch interface shared with the control plane.
//
// Slot i is `slotSize` bytes. A TAP read lands at slot + HEADROOM - VNET_HLEN:
// the 10-byte virtio-net header, then the Ethernet frame at slot + HEADROOM.
// HEADROOM leaves room before the frame so encapsulation can prepend headers
// in place (VXLAN adds 50 bytes); the extra 2 bytes put the IPv4 header on a
// 4-byte boundary (the kernel's NET_IP_ALIGN).
//
// The rx list names each frame by address: rxAddr[i] is where its vnet header
// starts (a slot of this node, or a frame another node sharing this memory
// handed over on the underlay — no copy), rxLen[i] the bytes from there
// (vnet header included), rxPort[i] the port it arrived on.
// processBatch(first, n) appends to the tx list: (slot, port, start, length),
// where [start, start+length) is the vnet header then the frame, ready for
// one write(2). txClear() empties it (and the pool of generated frames)
// once everything queued has been written.
import { VNET_HLEN, VNET_F_NEEDS_CSUM, VNET_GSO_NONE } from "./wire/virtio";

export const HEADROOM: u32 = 130;
// a tx entry, 16 bytes: slot u32, port u32, start u32 (where the vnet header is), length u32 (with it)
export const TX_ENTRY: usize = 16;
export const TX_SLOT: usize = 0;
export const TX_PORT: usize = 4;
export const TX_START: usize = 8;
export const TX_LENGTH: usize = 12;
/** tx entry slot value for a generated frame (ICMP error, fragment), which lives in the gen pool */
export const GEN_SLOT: u32 = 0xfffffffe; // tx entry slot value for a generated frame

export let numSlots: u32 = 0;
export let rxCapacity: u32 = 0;
export let slotSize: u32 = 0;
export let slotBase: usize = 0;
export let rxLenBase: usize = 0;
export let rxPortBase: usize = 0;
export let rxAddrBase: usize = 0;
export let txBase: usize = 0;
export let txCapacity: u32 = 0;
export let txCount: u32 = 0;
let genBase: usize = 0;
let genSlots: u32 = 0;
let genSlotSize: u32 = 0;
let genUsed: u32 = 0;

export function frameLayout(slots: u32, rxCap: u32, size: u32, slotsAt: usize, rxLenAt: usize, rxPortAt: usize, rxAddrAt: usize,
  txAt: usize, txCap: u32, genAt: usize, gens: u32, genSize: u32): void {
  numSlots = slots;
  rxCapacity = rxCap;
  slotSize = size;
  slotBase = slotsAt;
  rxLenBase = rxLenAt;
  rxPortBase = rxPortAt;
  rxAddrBase = rxAddrAt;
  txBase = txAt;
  txCapacity = txCap;
  genBase = genAt;
  genSlots = gens;
  genSlotSize = genSize;
}

/** Where the vnet header of slot i sits when the frame starts at HEADROOM. */
@inline export function slotVnet(i: u32): usize {
  return slotBase + <usize>i * <usize>slotSize + HEADROOM - VNET_HLEN;
}
@inline export function rxLen(i: u32): u32 { return load<u32>(rxLenBase + (<usize>i << 2)); }
@inline export function rxPort(i: u32): u32 { return load<u32>(rxPortBase + (<usize>i << 2)); }
@inline export function rxAddr(i: u32): usize { return <usize>load<u32>(rxAddrBase + (<usize>i << 2)); }

/** Forget what was queued and every generated frame: call after the tx list was written. */
export function txClear(): void {
  txCount = 0;
  genUsed = 0;
}

/**
 * A fresh generated frame: returns where its vnet header goes (zeroed), the
 * frame following it with HEADROOM - VNET_HLEN bytes of room before it for
 * encapsulation, genSlotSize - HEADROOM bytes after. 0 when the pool is used up.
 */
export function genAlloc(): usize {
  if (genUsed >= genSlots) return 0;
  const v = genBase + <usize>genUsed * <usize>genSlotSize + HEADROOM - VNET_HLEN;
  genUsed++;
  store<u64>(v, 0);
  store<u16>(v, 0, 8);
  return v;
}

/** Generated frames still available this round. */
export function genFree(): u32 { return genSlots - genUsed; }
/** The largest frame (Ethernet header on) a generated slot holds, with room left for encapsulation in front. */
export function genFrameCapacity(): u32 { return genSlotSize - HEADROOM; }

/** Queue `len` bytes at `start` (vnet header + frame) for `port`. False when the tx list is full. */
@inline export function txPush(slot: u32, port: u32, start: usize, len: u32): bool {
  if (txCount >= txCapacity) return false;
  const e = txBase + <usize>txCount * TX_ENTRY;
  store<u32>(e, slot, TX_SLOT);
  store<u32>(e, port, TX_PORT);
  store<u32>(e, <u32>start, TX_START);
  store<u32>(e, len, TX_LENGTH);
  txCount++;
  return true;
}

/**
 * The frame now starts at `to` instead of `from` (encap prepends: to < from;
 * decap strips: to > from). Its vnet header moves along, and the offsets in it
 * that count from the frame start (csum_start, hdr_len) shift by the same
 * amount, so a partial checksum or GSO description still points at the same
 * bytes. Call before writing any new header bytes (the regions may overlap).
 * Returns true when a partial checksum lay in the stripped bytes: its flag is
 * cleared, and the caller decides whether that was legitimate (a tunnel's
 * outer UDP checksum) or a malformed frame.
 */
export function moveFrame(from: usize, to: usize): bool {
  // 10 bytes: read both parts before writing (the ranges may overlap)
  const a = load<u64>(from - VNET_HLEN);
  const b = load<u16>(from - VNET_HLEN, 8);
  const v = to - VNET_HLEN;
  store<u64>(v, a);
  store<u16>(v, b, 8);
  const shift = <i32>(<isize>from - <isize>to); // > 0 when headers were prepended
  if ((load<u8>(v) & VNET_F_NEEDS_CSUM) != 0) {
    const start = <i32>load<u16>(v + 6) + shift;
    // a partial checksum inside headers just stripped (a kernel's VXLAN frame
    // arrives with its outer UDP checksum left to "hardware") went with them:
    // what remains carries complete checksums
    if (start < 0) {
      store<u8>(v, load<u8>(v) & ~VNET_F_NEEDS_CSUM);
      if (load<u8>(v, 1) != VNET_GSO_NONE) store<u16>(v + 2, <u16>(<i32>load<u16>(v + 2) + shift));
      return true;
    }
    store<u16>(v + 6, <u16>start);
  }
  if (load<u8>(v, 1) != VNET_GSO_NONE) store<u16>(v + 2, <u16>(<i32>load<u16>(v + 2) + shift));
  return false;
}
