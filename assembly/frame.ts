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
/** Ingress port value for frames that came from no bridge port (routed, generated): excludes nothing from a flood. */
export const NO_INGRESS: u32 = 0xffffffff;

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
let genSent: u32 = 0;  // generated frames before this one were handed to the dispatcher (genNext)

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
  genSent = 0;
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
  store<u32>(v + VNET_HLEN - HEADROOM, GEN_UNQUEUED);
  return v;
}

// The queue of generated frames. A stage that builds a frame (ICMP error, TCP
// reset, fragment, GSO segment) does not send it: it queues it with where it
// goes, and the dispatcher (index.ts) takes the queue after the frame being
// processed and sends each like any other frame, so no stage calls back up
// the pipeline. The queue is the generated slots themselves, in the order
// they were allocated; what a queued frame needs is kept at the start of its
// slot, in headroom that encapsulation (at most 50 bytes before the frame,
// HEADROOM 130) never reaches.
const GEN_UNQUEUED: u32 = 0x80000000; // never a route (>= 0) nor GEN_BRIDGED
/** Route value for a generated frame to bridge (not route) from the port in genInPort. */
export const GEN_BRIDGED: i32 = -1;
const Q_ROUTE: usize = 0;   // i32: a route index, GEN_BRIDGED, or GEN_UNQUEUED
const Q_IN_PORT: usize = 4; // u32
const Q_LEN: usize = 8;     // u32: frame bytes (no vnet header)
const Q_L2LEN: usize = 12;  // u16
const Q_IS_DROP: usize = 14; // u8: 1 = a lost one is a drop (fragments, segments); 0 = an event (generated_unsent)

/**
 * Queue generated frame `frame` (from genAlloc + VNET_HLEN, `len` bytes, L2
 * header `l2len`) to go along route `r`, or bridged from `inPort` when r is
 * GEN_BRIDGED. `lostIsDrop`: when it cannot be sent, count the reason as a
 * drop (a piece of a forwarded packet) rather than as generated_unsent (a
 * frame the node made up: the received frame it answers has its own verdict).
 */
export function genQueue(frame: usize, r: i32, inPort: u32, len: u32, l2len: u32, lostIsDrop: bool): void {
  const q = frame - HEADROOM;
  store<i32>(q + Q_ROUTE, r);
  store<u32>(q + Q_IN_PORT, inPort);
  store<u32>(q + Q_LEN, len);
  store<u16>(q + Q_L2LEN, <u16>l2len);
  store<u8>(q + Q_IS_DROP, lostIsDrop ? 1 : 0);
}

/** Generated frames not yet taken by the dispatcher? One compare: the per-frame cost when there are none. */
@inline export function genPending(): bool { return genSent < genUsed; }

/** The next queued generated frame's address (the frame, after its vnet header), 0 when none is left. */
export function genNext(): usize {
  while (genSent < genUsed) {
    const frame = genBase + <usize>genSent * <usize>genSlotSize + HEADROOM;
    genSent++;
    if (load<u32>(frame - HEADROOM + Q_ROUTE) != GEN_UNQUEUED) return frame;
  }
  return 0;
}
@inline export function genRoute(frame: usize): i32 { return load<i32>(frame - HEADROOM + Q_ROUTE); }
@inline export function genInPort(frame: usize): u32 { return load<u32>(frame - HEADROOM + Q_IN_PORT); }
@inline export function genLen(frame: usize): u32 { return load<u32>(frame - HEADROOM + Q_LEN); }
@inline export function genL2len(frame: usize): u32 { return <u32>load<u16>(frame - HEADROOM + Q_L2LEN); }
@inline export function genLostIsDrop(frame: usize): bool { return load<u8>(frame - HEADROOM + Q_IS_DROP) != 0; }

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
