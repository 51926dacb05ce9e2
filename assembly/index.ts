// The data plane's exports: one batch entry point, layout queries for the
// control plane's loader (src/dataplane/), and table operations.
import { HEADROOM, TX_ENTRY, GEN_SLOT, GEN_BRIDGED, NO_INGRESS, genPending, genNext, genRoute, genInPort, genLen, genL2len, genLostIsDrop, frameLayout, rxLen, rxPort, rxAddr, txCount, slotBase as _slotBase, slotSize, rxLenBase, rxPortBase, rxAddrBase, rxCapacity, txBase, txCapacity } from "./frame";
import { VNET_HLEN, vnetCheck } from "./wire/virtio";
import { ethDst, ethHeaderLen, ethPayloadType, isGroupMac, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "./wire/ethernet";
import { Drop, Ev, PortCtr, countDrop, countEv, countPort, dropBase, evBase, portCtrBase, dropName, evName, portCtrName } from "./counters";
import * as counters from "./counters";
import { fdbBytes, fdbInit } from "./tables/mac_table";
import { fibBytes, fibInit } from "./tables/fib";
import { neighBytes, neighInit } from "./tables/neighbors";
import { ctBytes, ctInit } from "./tables/conntrack";
import { svcBytes, svcInit } from "./tables/services";
import { affBytes, affInit } from "./tables/affinity";
import { maglevBytes, maglevInit } from "./tables/maglev";
import { portsBytes, portsInit, portUp, portBridged } from "./tables/ports";
import { ulPort, ulTunnelGso, gwMac } from "./node";
import { tunnelHdrIn } from "./stages/tunnel_gso";
import { l2Input, l3Check } from "./stages/l2_input";
import { gatewayInput, GatewayNext, isArpForGateway, arpReply, vlanForHost } from "./stages/gateway";
import { bridgeForward } from "./stages/bridge";
import { underlayInput } from "./stages/decap";
import { serviceNat, NAT_DROP } from "./stages/service_nat";
import { policyCheck } from "./stages/policy";
import { polBytes, polInit } from "./tables/policy";
import { needsDefrag, defragment } from "./stages/defrag";
import { routeTo, ipForward } from "./stages/route";
import { fragment } from "./stages/fragment";
import { fragBytes, fragInit, fqFrame, fqLen, fqL2len, fqMaxSize, fqDf } from "./tables/frag_queue";
import { prefetchFlows, prefetchBytes, prefetchInit } from "./stages/flow_prefetch";
import { refusedPort } from "./stages/output";
import { Step, tracing, trace, traceFrame, traceIngress, traceTx, traceInit, traceBytes } from "./trace";
import { traceSnapshotLayout } from "./trace_session";

export { setClock } from "./clock";
export { setGateway, setUnderlay, setOverlay, setUnderlayNoGso, setUnderlayTunnelGso, setUnderlayTunnelGsoCsum } from "./node";
export { tunnelHdrRelay, tunnelHdrPlace } from "./stages/tunnel_gso";
export { portAttach, portDetach } from "./tables/ports";
export { txClear } from "./frame";
export { fdbExpire, fdbFlushPort, fdbSetAging, fdbAging, fdbCount, fdbCapacity, fdbBase, fdbSlots, fdbLookup, fdbLearn, fdbAddStatic } from "./tables/mac_table";
export { fibAdd, fibDel, fibLookup, fibCount, fibSlotsBase, fibSlots, fibRecordsBase } from "./tables/fib";
export { neighSet, neighDel, neighLookup, neighCount, neighBase, neighSlots } from "./tables/neighbors";
export { ctLookup, ctCreate, ctDelete, ctUpdate, ctUpdateTcp, ctUpdateUdp, ctUpdateIcmp, ctGc, ctSetTimeout, ctTimeout,
  ctState, ctFlags, ctFlushReplySource, ctCount, ctCapacity, ctBase, ctEntryBytes, ctHighWater, ctGcCursor } from "./tables/conntrack";
export { svcAddFrontend, svcDelFrontend, svcLookup, svcClearBackends, svcAddBackend, svcBackendCount, svcFrontendCount,
  svcCapacity, svcMaxBackends, svcSetSeed, svcSetOptions, svcFrontendBase, svcFrontendSlots, svcBase, svcStrideBytes } from "./tables/services";
export { affForgetService } from "./tables/affinity";
export { polClear, polSetAddress, polAddClass, polAddRange, polDecide, polLocalFlags, polAddressCount, polAllowCount, polCapacity } from "./tables/policy";
export { setFlowPrefetch } from "./stages/flow_prefetch";
export { maglevEnabled, maglevTable, maglevSlots } from "./tables/maglev";
export { traceReset, traceCount, traceRingPtr, traceRingCap, traceBuilt, traceStepCount, traceStepName } from "./trace";
export { traceBegin, traceEnd } from "./trace_session";
export { routePrefix } from "./tables/fib";

const ALIGN: usize = 64;
@inline function align(a: usize): usize { return (a + ALIGN - 1) & ~(ALIGN - 1); }
/** rx entries past the slots: frames other nodes hand over on the underlay, one at a time. */
const RX_EXTRA: u32 = 4;
/** Trace records per node: a whole batch's decisions (about a dozen a frame) while tracing live. */
const TRACE_RECORDS: u32 = 8192;

let configured = false;
let regionEnd: usize = 0;

/**
 * Carve this node's memory, from `base` (0: the end of static data): `slots`
 * frame slots of `slotSize` bytes, `genSlots` generated-frame slots of
 * `genSlotSize`, an FDB of `fdbCapacity` MACs, `maxPorts` ports, `fibCapacity`
 * routes, `neighCapacity` neighbours, `ctCapacity` conntrack entries and
 * `svcCapacity` Service frontends of up to `svcMaxBackends` backends each,
 * `policyCapacity` NetworkPolicy addresses and allow entries. Several nodes may share one memory,
 * each configured at the previous one's end (see regionEndPtr). Called once.
 * `zeroed`: the caller knows the region is still zero (memory just created
 * or grown, nothing written there), so it is not filled again: filling it
 * touched every page of every node's tables (50 nodes: ~600 MB resident and
 * most of a second), though most of them stay empty for the lab's life.
 * Returns 0, or -1 when memory could not grow, -2 when already configured,
 * -3 for a slot too small to hold a minimal frame.
 */
export function configure(base: usize, slots: u32, slotSize: u32, fdbCapacity: u32, maxPorts: u32,
  genSlots: u32, genSlotSize: u32, fibCapacity: u32, neighCapacity: u32, ctCapacity: u32,
  svcCapacity: u32, svcMaxBackends: u32, maglev: bool, fragQueues: u32, policyCapacity: u32, zeroed: bool): i32 {
  if (configured) return -2;
  if (slotSize < HEADROOM + 64 || genSlotSize < HEADROOM + 64) return -3;
  let at = align(base == 0 ? __heap_base : base);
  const dropAt = at; at = align(at + <usize>Drop.COUNT * 8);
  const evAt = at; at = align(at + <usize>Ev.COUNT * 8);
  const portCtrAt = at; at = align(at + <usize>maxPorts * <usize>PortCtr.COUNT * 8);
  const countersEnd = at;
  const portsAt = at; at = align(at + portsBytes(maxPorts));
  const fdbAt = at; at = align(at + fdbBytes(fdbCapacity));
  const fibAt = at; at = align(at + fibBytes(fibCapacity));
  const neighAt = at; at = align(at + neighBytes(neighCapacity));
  // copies of the counters, FDB and neighbours, for a dry-run trace to put back; the trace ring
  const snapCtrAt = at; at = align(at + (countersEnd - dropAt));
  const snapFdbAt = at; at = align(at + fdbBytes(fdbCapacity));
  const snapNeighAt = at; at = align(at + neighBytes(neighCapacity));
  const traceAt = at; at = align(at + traceBytes(TRACE_RECORDS));
  const ctAt = at; at = align(at + ctBytes(ctCapacity));
  const svcAt = at; at = align(at + svcBytes(svcCapacity, svcMaxBackends));
  // ClientIP affinity: one entry per client and Service, a quarter of the flows' room
  const affCap = max<u32>(ctCapacity >> 2, 64);
  const affAt = at; at = align(at + affBytes(affCap));
  const maglevAt = at; at = align(at + maglevBytes(svcCapacity, maglev));
  // IPv4 reassembly buffers (64 KiB each): fragments are reassembled before conntrack
  const fragAt = at; at = align(at + fragBytes(fragQueues));
  // NetworkPolicy: pod addresses, allow entries and their port ranges
  const polAt = at; at = align(at + polBytes(policyCapacity));
  const prefetchAt = at; at = align(at + prefetchBytes());
  const rxCap = slots + RX_EXTRA;
  const rxLenAt = at; at = align(at + <usize>rxCap * 4);
  const rxPortAt = at; at = align(at + <usize>rxCap * 4);
  const rxAddrAt = at; at = align(at + <usize>rxCap * 4);
  // worst case: every frame, received or generated, floods to every port
  const txCap = (rxCap + genSlots) * maxPorts;
  const txAt = at; at = align(at + <usize>txCap * TX_ENTRY);
  const genAt = at; at = align(at + <usize>genSlots * <usize>genSlotSize);
  const slotsAt = at; at = slotsAt + <usize>slots * <usize>slotSize;
  const needPages = <i32>((at + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return -1;
  // counters and every table start zero (their init functions rely on it)
  if (!zeroed) memory.fill(dropAt, 0, genAt - dropAt);
  counters.dropBase = dropAt;
  counters.evBase = evAt;
  counters.portCtrBase = portCtrAt;
  traceSnapshotLayout(dropAt, countersEnd - dropAt, snapCtrAt, fdbAt, fdbBytes(fdbCapacity), snapFdbAt,
    neighAt, neighBytes(neighCapacity), snapNeighAt);
  traceInit(traceAt, TRACE_RECORDS);
  portsInit(portsAt, maxPorts);
  fdbInit(fdbAt, fdbCapacity);
  fibInit(fibAt, fibCapacity);
  neighInit(neighAt, neighCapacity);
  ctInit(ctAt, ctCapacity);
  svcInit(svcAt, svcCapacity, svcMaxBackends);
  affInit(affAt, affCap);
  maglevInit(maglevAt, svcCapacity, maglev);
  fragInit(fragAt, fragQueues);
  polInit(polAt, policyCapacity);
  prefetchInit(prefetchAt);
  frameLayout(slots, rxCap, slotSize, slotsAt, rxLenAt, rxPortAt, rxAddrAt, txAt, txCap, genAt, genSlots, genSlotSize);
  regionEnd = at;
  configured = true;
  return 0;
}

/**
 * Process rx entries [first, first + n), appending to the tx list (cleared
 * by txClear). Returns the tx list's length. Every frame either leaves
 * through at least one tx entry or is counted under exactly one drop reason.
 */
export function processBatch(first: u32, n: u32): u32 {
  const end = min(first + n, rxCapacity);
  prefetchFlows(first, end);
  // one test of the trace switch per batch; the untraced loop has no trace point of its own
  if (tracing()) return processTraced(first, end);
  for (let i = first; i < end; i++) {
    const inPort = rxPort(i);
    const r = processFrame(i, inPort, rxAddr(i), rxLen(i));
    if (genPending()) sendGenerated();
    if (r != Drop.NONE && r != Drop.HELD) countFrameDrop(inPort, r);
  }
  return txCount;
}

/**
 * Send the frames the stages generated while processing one frame (ICMP
 * errors, resets, fragments, GSO segments; frame.ts genQueue), in the order
 * they were made, each routed (or bridged) like a received one. Sending one
 * may generate more (an ICMP error about a fragment with no neighbour): they
 * join the queue and go too. A lost one counts as a drop or as
 * generated_unsent, as it was queued.
 */
function sendGenerated(): void {
  for (let g = genNext(); g != 0; g = genNext()) {
    const r = genRoute(g);
    const len = genLen(g);
    const l2len = genL2len(g);
    const d = r == GEN_BRIDGED
      ? bridgeForward(GEN_SLOT, genInPort(g), g, len, l2len)
      : routeTo(r, GEN_SLOT, NO_INGRESS, g, len, l2len);
    if (d != Drop.NONE) {
      if (genLostIsDrop(g)) countDrop(d);
      else countEv(Ev.GENERATED_UNSENT);
    }
  }
}

@inline function countFrameDrop(inPort: u32, r: Drop): void {
  countDrop(r);
  if (portUp(inPort)) countPort(inPort, PortCtr.RX_DROPS, 1);
}

/**
 * processBatch with every frame's ingress, outputs and verdict recorded
 * (the stages record the decisions between; what a frame queued is read
 * back from the tx list, so output has no trace point of its own).
 */
function processTraced(first: u32, end: u32): u32 {
  for (let i = first; i < end; i++) {
    const inPort = rxPort(i);
    traceFrame();
    // the underlay TAP's tunnel header first, so the trace records the header processFrame reads (idempotent: it converts again)
    if (inPort == ulPort && ulTunnelGso) tunnelHdrIn(rxAddr(i));
    traceIngress(inPort, rxAddr(i), rxLen(i), inPort == ulPort);
    const queued = txCount;
    const r = processFrame(i, inPort, rxAddr(i), rxLen(i));
    if (genPending()) sendGenerated();
    for (let k = queued; k < txCount; k++) traceTx(k);
    if (r == Drop.OVERSIZE || r == Drop.TX_FULL) trace(Step.TX_REFUSED, <u32>r, refusedPort, 0, 0, 0, 0, 0);
    trace(Step.VERDICT, <u32>r, 0, 0, 0, 0, 0, 0);
    if (r != Drop.NONE && r != Drop.HELD) countFrameDrop(inPort, r);
  }
  return txCount;
}

function processFrame(slot: u32, inPort: u32, vnet: usize, total: u32): Drop {
  if (!portUp(inPort)) return Drop.BAD_PORT;
  countPort(inPort, PortCtr.RX_PACKETS, 1);
  if (total <= VNET_HLEN) return Drop.ETH_TRUNCATED;
  const len = total - VNET_HLEN;
  countPort(inPort, PortCtr.RX_BYTES, len);
  const frame = vnet + VNET_HLEN;
  // the underlay TAP's 24-byte header, read in front of the usual 10 (engine-io-loop)
  const tunnel = inPort == ulPort && ulTunnelGso;
  if (tunnel) tunnelHdrIn(vnet);
  if (!vnetCheck(vnet, len, tunnel)) return Drop.BAD_VNET_HDR;
  if (inPort == ulPort) return underlayInput(slot, inPort, frame, len);
  // a TAP read that filled its slot was cut short (the TAP copies what fits
  // and says no more): bigger than any port's MTU allows, never forwarded in part
  if (portBridged(inPort) && total >= slotSize - HEADROOM + VNET_HLEN) return Drop.OVERSIZE;
  const l2 = l2Input(inPort, vnet, frame, len);
  if (l2 < 0) return <Drop>-l2;
  const l2len = <u32>l2;
  const l3type = ethPayloadType(frame, l2len);
  const bad = l3Check(frame, len, l2len, l3type);
  if (bad != Drop.NONE) return bad;
  const dst = ethDst(frame);
  if (dst == gwMac) {
    const next = gatewayInput(slot, inPort, frame, len, l2len, l3type);
    if (next == GatewayNext.ROUTE) return ipForward(slot, frame, len, l2len);
    if (next == GatewayNext.ROUTE_IF_TRANSLATED) return ipForward(slot, frame, len, l2len, Drop.GATEWAY_UNHANDLED);
    return <Drop>next;
  }
  // a tagged (VID != 0) request is only flooded: the gateway has no VLAN device to hear it on
  if (isGroupMac(dst) && l3type == ETHERTYPE_ARP && vlanForHost(frame, l2len) && isArpForGateway(frame + l2len)) {
    return arpReply(slot, inPort, frame, len, l2len);
  }
  // Bridged IPv4 goes through Service NAT too, as bridge-nf-call-iptables (which
  // kube-proxy requires) makes the kernel do: a backend on the client's own node
  // answers the client directly over the bridge (same pod subnet, no gateway),
  // and only this un-DNATs its reply back to the ClusterIP the client talks to.
  if (l3type == ETHERTYPE_IPV4 && !isGroupMac(dst)) {
    if (needsDefrag(frame + l2len)) {
      // as br_netfilter: reassembled for conntrack, bridged on in fragments
      // of the largest size that came in (its frag_max_size)
      const d = defragment(frame, len, l2len);
      if (d != Drop.NONE) return d;
      const nat = serviceNat(fqFrame, fqLen, fqL2len);
      if ((nat & NAT_DROP) != Drop.NONE) return <Drop>(nat & NAT_DROP);
      const pol = policyCheck(fqFrame, fqLen, fqL2len, nat);
      if (pol != Drop.NONE) return pol;
      return fragment(-1, fqFrame, fqLen, fqL2len, fqMaxSize, fqDf, inPort);
    }
    const nat = serviceNat(frame, len, l2len);
    if ((nat & NAT_DROP) != Drop.NONE) return <Drop>(nat & NAT_DROP);
    const pol = policyCheck(frame, len, l2len, nat);
    if (pol != Drop.NONE) return pol;
  }
  return bridgeForward(slot, inPort, frame, len, l2len);
}

// ---- layout, for the loader (src/dataplane) ----
export function headroom(): u32 { return HEADROOM; }
export function vnetHeaderLen(): u32 { return VNET_HLEN; }
export function slotBase(): usize { return _slotBase; }
export function rxLenPtr(): usize { return rxLenBase; }
export function rxPortPtr(): usize { return rxPortBase; }
export function rxAddrPtr(): usize { return rxAddrBase; }
export function rxCap(): u32 { return rxCapacity; }
export function regionEndPtr(): usize { return regionEnd; }
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
    const vnet = rxAddr(i);
    const frame = vnet + VNET_HLEN;
    if (!vnetCheck(vnet, len)) continue;
    const l2len = ethHeaderLen(frame, len);
    if (l2len == 0) continue;
    if (l3Check(frame, len, l2len, ethPayloadType(frame, l2len)) == Drop.NONE) good++;
  }
  return good;
}

/**
 * Benchmark support: copy `n` template frames, `len` bytes each (vnet header
 * included) laid out every `stride` bytes from `src`, to the addresses of rx
 * entries [first, first + n). Stages that rewrite frames in place (encap,
 * decap, TTL) need fresh input for every timed batch; the benchmark times
 * this copy alone too, so its cost can be told apart.
 */
export function benchRestore(first: u32, n: u32, src: usize, stride: u32, len: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    memory.copy(rxAddr(first + i), src + <usize>i * <usize>stride, len);
  }
}
