// The data plane's exports: one batch entry point, layout queries for the
// control plane's loader (src/dataplane/), and table operations.
import { HEADROOM, TX_ENTRY, frameLayout, slotVnet, rxLen, rxPort, txReset, txCount, slotBase as _slotBase, slotSize, rxLenBase, rxPortBase, txBase, txCapacity } from "./frame";
import { VNET_HLEN, vnetCheck } from "./wire/virtio";
import { ethDst, ethHeaderLen, ethPayloadType, isGroupMac, ETHERTYPE_ARP } from "./wire/ethernet";
import { Drop, Ev, PortCtr, countDrop, countPort, dropBase, evBase, portCtrBase, dropName, evName, portCtrName } from "./counters";
import * as counters from "./counters";
import { fdbBytes, fdbInit } from "./tables/mac_table";
import { portsBytes, portsInit, portUp } from "./tables/ports";
import { l2Input, l2Drop, l3Check } from "./stages/l2_input";
import { gatewayInput, gwMac, isArpForGateway, arpReply } from "./stages/gateway";
import { bridgeForward } from "./stages/bridge";

export { setClock } from "./clock";
export { setGateway } from "./stages/gateway";
export { portAttach, portDetach } from "./tables/ports";
export { fdbExpire, fdbFlushPort, fdbSetAging, fdbAging, fdbCount, fdbCapacity, fdbBase, fdbSlots, fdbLookup, fdbLearn } from "./tables/mac_table";

const ALIGN: usize = 64;
@inline function align(a: usize): usize { return (a + ALIGN - 1) & ~(ALIGN - 1); }

let configured = false;

/**
 * Carve memory for `slots` frame slots of `slotSize` bytes, an FDB of
 * `fdbCapacity` MACs and `maxPorts` ports. Called once, before any batch.
 * Returns 0, or -1 when memory could not grow, -2 when already configured,
 * -3 for a slot too small to hold a minimal frame.
 */
export function configure(slots: u32, slotSize: u32, fdbCapacity: u32, maxPorts: u32): i32 {
  if (configured) return -2;
  if (slotSize < HEADROOM + 64) return -3;
  let at = align(__heap_base);
  const dropAt = at; at = align(at + <usize>Drop.COUNT * 8);
  const evAt = at; at = align(at + <usize>Ev.COUNT * 8);
  const portCtrAt = at; at = align(at + <usize>maxPorts * <usize>PortCtr.COUNT * 8);
  const portsAt = at; at = align(at + portsBytes(maxPorts));
  const fdbAt = at; at = align(at + fdbBytes(fdbCapacity));
  const rxLenAt = at; at = align(at + <usize>slots * 4);
  const rxPortAt = at; at = align(at + <usize>slots * 4);
  // worst case: every frame floods to every other port
  const txCap = slots * maxPorts;
  const txAt = at; at = align(at + <usize>txCap * TX_ENTRY);
  const slotsAt = align(at); at = slotsAt + <usize>slots * <usize>slotSize;
  const needPages = <i32>((at + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return -1;
  memory.fill(dropAt, 0, slotsAt - dropAt);
  counters.dropBase = dropAt;
  counters.evBase = evAt;
  counters.portCtrBase = portCtrAt;
  portsInit(portsAt, maxPorts);
  fdbInit(fdbAt, fdbCapacity);
  frameLayout(slots, slotSize, slotsAt, rxLenAt, rxPortAt, txAt, txCap);
  configured = true;
  return 0;
}

/**
 * Process frames in slots [0, n). Returns the number of tx entries queued.
 * Every frame either leaves through at least one tx entry or is counted under
 * exactly one drop reason.
 */
export function processBatch(n: u32): u32 {
  txReset();
  for (let i: u32 = 0; i < n; i++) {
    const inPort = rxPort(i);
    const total = rxLen(i);
    const r = processFrame(i, inPort, total);
    if (r != Drop.NONE) {
      countDrop(r);
      if (portUp(inPort)) countPort(inPort, PortCtr.RX_DROPS, 1);
    }
  }
  return txCount;
}

function processFrame(slot: u32, inPort: u32, total: u32): Drop {
  if (!portUp(inPort)) return Drop.BAD_PORT;
  countPort(inPort, PortCtr.RX_PACKETS, 1);
  if (total <= VNET_HLEN) return Drop.ETH_TRUNCATED;
  const len = total - VNET_HLEN;
  countPort(inPort, PortCtr.RX_BYTES, len);
  // a read that filled its slot was cut short by the TAP (it copies what fits
  // and says no more): bigger than any port's MTU allows, never forwarded in part
  if (total >= slotSize - HEADROOM + VNET_HLEN) return Drop.OVERSIZE;
  const vnet = slotVnet(slot);
  const frame = vnet + VNET_HLEN;
  const l2len = l2Input(inPort, vnet, frame, len);
  if (l2len == 0) return l2Drop;
  const l3type = ethPayloadType(frame, l2len);
  const bad = l3Check(frame, len, l2len, l3type);
  if (bad != Drop.NONE) return bad;
  const dst = ethDst(frame);
  if (dst == gwMac) return gatewayInput(slot, inPort, frame, len, l2len, l3type);
  if (isGroupMac(dst) && l3type == ETHERTYPE_ARP && isArpForGateway(frame + l2len)) {
    return arpReply(slot, inPort, frame, len, l2len);
  }
  return bridgeForward(slot, inPort, frame, len, l2len);
}

// ---- layout, for the loader (src/dataplane) ----
export function headroom(): u32 { return HEADROOM; }
export function vnetHeaderLen(): u32 { return VNET_HLEN; }
export function slotBase(): usize { return _slotBase; }
export function rxLenPtr(): usize { return rxLenBase; }
export function rxPortPtr(): usize { return rxPortBase; }
export function txPtr(): usize { return txBase; }
export function txEntryBytes(): u32 { return <u32>TX_ENTRY; }
export function txCap(): u32 { return txCapacity; }
export function dropCountersPtr(): usize { return dropBase; }
export function eventCountersPtr(): usize { return evBase; }
export function portCountersPtr(): usize { return portCtrBase; }
export function dropReasonCount(): u32 { return <u32>Drop.COUNT; }
export function eventCount(): u32 { return <u32>Ev.COUNT; }
export function portCounterCount(): u32 { return <u32>PortCtr.COUNT; }
export function dropReasonName(i: i32): usize { return changetype<usize>(dropName(i)); }
export function eventName(i: i32): usize { return changetype<usize>(evName(i)); }
export function portCounterName(i: i32): usize { return changetype<usize>(portCtrName(i)); }

/**
 * Parse-only pass over slots [0, n): the ingress checks (vnet header,
 * Ethernet, IPv4/ARP shape) without learning or forwarding. For the hot-path
 * benchmark, to separate parsing cost from the bridge's. Returns frames that passed.
 */
export function parseBatch(n: u32): u32 {
  let good: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const total = rxLen(i);
    if (total <= VNET_HLEN) continue;
    const len = total - VNET_HLEN;
    const vnet = slotVnet(i);
    const frame = vnet + VNET_HLEN;
    if (!vnetCheck(vnet, len)) continue;
    const l2len = ethHeaderLen(frame, len);
    if (l2len == 0) continue;
    if (l3Check(frame, len, l2len, ethPayloadType(frame, l2len)) == Drop.NONE) good++;
  }
  return good;
}
