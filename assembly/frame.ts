// Frame slots and the batch interface shared with the control plane.
//
// Slot i is `slotSize` bytes. A TAP read lands at slot + HEADROOM - VNET_HLEN:
// the 10-byte virtio-net header, then the Ethernet frame at slot + HEADROOM.
// HEADROOM leaves room before the frame so encapsulation can prepend headers
// in place; the extra 2 bytes put the IPv4 header on a 4-byte boundary
// (the kernel's NET_IP_ALIGN).
//
// Per batch the control plane fills rxLen[i] (bytes read, vnet header
// included) and rxPort[i], calls processBatch(n), then writes each tx entry:
// (slot, port, start, length), where [start, start+length) is the vnet
// header followed by the frame, ready for one write(2).
import { VNET_HLEN } from "./wire/virtio";

export const HEADROOM: u32 = 130;
export const TX_ENTRY: usize = 16; // i32 slot, i32 port, u32 start, u32 length

export let numSlots: u32 = 0;
export let slotSize: u32 = 0;
export let slotBase: usize = 0;
export let rxLenBase: usize = 0;
export let rxPortBase: usize = 0;
export let txBase: usize = 0;
export let txCapacity: u32 = 0;
export let txCount: u32 = 0;

export function frameLayout(slots: u32, size: u32, slotsAt: usize, rxLenAt: usize, rxPortAt: usize, txAt: usize, txCap: u32): void {
  numSlots = slots;
  slotSize = size;
  slotBase = slotsAt;
  rxLenBase = rxLenAt;
  rxPortBase = rxPortAt;
  txBase = txAt;
  txCapacity = txCap;
}

/** Where the vnet header of slot i sits when the frame starts at HEADROOM. */
@inline export function slotVnet(i: u32): usize {
  return slotBase + <usize>i * <usize>slotSize + HEADROOM - VNET_HLEN;
}
@inline export function rxLen(i: u32): u32 { return load<u32>(rxLenBase + (<usize>i << 2)); }
@inline export function rxPort(i: u32): u32 { return load<u32>(rxPortBase + (<usize>i << 2)); }

@inline export function txReset(): void { txCount = 0; }

/** Queue `len` bytes at `start` (vnet header + frame) for `port`. False when the tx list is full. */
@inline export function txPush(slot: u32, port: u32, start: usize, len: u32): bool {
  if (txCount >= txCapacity) return false;
  const e = txBase + <usize>txCount * TX_ENTRY;
  store<u32>(e, slot);
  store<u32>(e, port, 4);
  store<u32>(e, <u32>start, 8);
  store<u32>(e, len, 12);
  txCount++;
  return true;
}
