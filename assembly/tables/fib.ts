// The node's IPv4 routing table: longest-prefix match. One open-addressing
// hash keyed by (prefix, length) plus a bitmap of the lengths present, so a
// lookup probes only lengths that exist (a cluster has one or two: the pod
// CIDRs' /24 and maybe a default), longest first.
//
// Each route says how to reach its prefix: on the local bridge, through a
// tunnel to another node (VXLAN or IP-in-IP), or directly over the underlay
// to another node (host-gw). Filled by the control plane only.
import { slotsFor, canFillHole, probeFind, probeSlot } from "./open_addressing";

export const ROUTE_NONE: i32 = -1;
export const enum RouteKind {
  LOCAL = 1,     // the node's own pod CIDR: deliver on the bridge
  VXLAN = 2,     // remote pod CIDR behind a VXLAN tunnel endpoint
  IPIP = 3,      // remote pod CIDR behind an IP-in-IP tunnel endpoint
  HOST_GW = 4,   // remote pod CIDR, next hop is the remote node on the underlay
  ANNOUNCED = 5, // a LoadBalancer address (/32) this node answers ARP for on the underlay; never a way out
}

// slot layout, 16 bytes: key u64 (prefix << 8 | len, | OCCUPIED), route index u32, pad
const SLOT: usize = 16;
const OCCUPIED: u64 = 1 << 63;
const S_ROUTE: usize = 8;
const KEY_PREFIX_SHIFT: u64 = 8;
// route record, 16 bytes: kind u32, next hop (remote node underlay IP) u32, remote VTEP MAC u64
const REC: usize = 16;
const R_KIND: usize = 0;
const R_NEXT_HOP: usize = 4;
const R_VTEP_MAC: usize = 8;

let slotsBase: usize = 0;
let recBase: usize = 0;
let mask: u32 = 0;
let capacity: u32 = 0;
let count: u32 = 0;
let lengths: u64 = 0;      // bit L set when some route has prefix length L
let refcount: usize = 0;   // per-length route counts (33 x u32), to clear bits on delete

export function fibBytes(cap: u32): usize {
  return <usize>slotsFor(cap) * SLOT + <usize>cap * REC + 33 * 4;
}

export function fibInit(at: usize, cap: u32): void {
  capacity = cap;
  mask = slotsFor(cap) - 1;
  slotsBase = at;
  recBase = at + <usize>(mask + 1) * SLOT;
  refcount = recBase + <usize>cap * REC;
  count = 0;
  lengths = 0;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

@inline function netmask(len: u32): u32 { return len == 0 ? 0 : <u32>(0xffffffff << (32 - len)); }
@inline function keyOf(prefix: u32, len: u32): u64 { return (<u64>prefix << KEY_PREFIX_SHIFT) | <u64>len | OCCUPIED; }
@inline function hash(k: u64): u32 { return <u32>((k * 0x9E3779B97F4A7C15) >> 32); }

function find(key: u64): i32 {
  const s = probeFind(slotsBase, SLOT, mask, hash(key), key);
  return s == 0 ? -1 : <i32>((s - slotsBase) / SLOT);
}

/** Add or replace a route. Returns its index, or ROUTE_NONE when the table is full or the length is > 32. */
export function fibAdd(prefix: u32, len: u32, kind: u32, nextHop: u32, vtepMac: u64): i32 {
  if (len > 32) return ROUTE_NONE;
  prefix &= netmask(len);
  const key = keyOf(prefix, len);
  let idx: i32;
  const at = find(key);
  if (at >= 0) {
    idx = load<i32>(slotsBase + <usize>at * SLOT, S_ROUTE);
  } else {
    if (count >= capacity) return ROUTE_NONE;
    // route records are never freed individually: deletion leaves a hole the next add reuses
    idx = freeRecord();
    const s = probeSlot(slotsBase, SLOT, mask, hash(key), key); // absent: the empty slot ending its run
    store<u64>(s, key);
    store<i32>(s, idx, S_ROUTE);
    count++;
    const rc = refcount + (<usize>len << 2);
    store<u32>(rc, load<u32>(rc) + 1);
    lengths |= (<u64>1) << len;
  }
  const r = recBase + <usize>idx * REC;
  store<u32>(r, kind, R_KIND);
  store<u32>(r, nextHop, R_NEXT_HOP);
  store<u64>(r, vtepMac, R_VTEP_MAC);
  return idx;
}

function freeRecord(): i32 {
  for (let i: u32 = 0; i < capacity; i++) if (load<u32>(recBase + <usize>i * REC) == 0) return <i32>i;
  return ROUTE_NONE; // unreachable: count < capacity
}

/** Remove a route. Returns false when there was none. */
export function fibDel(prefix: u32, len: u32): bool {
  if (len > 32) return false;
  const at = find(keyOf(prefix & netmask(len), len));
  if (at < 0) return false;
  const idx = load<i32>(slotsBase + <usize>at * SLOT, S_ROUTE);
  memory.fill(recBase + <usize>idx * REC, 0, REC);
  // backward-shift delete (see mac_table.ts)
  let hole = <u32>at;
  let j = hole;
  while (true) {
    j = (j + 1) & mask;
    const k = load<u64>(slotsBase + <usize>j * SLOT);
    if (k == 0) break;
    const home = hash(k) & mask;
    if (canFillHole(hole, j, home)) {
      memory.copy(slotsBase + <usize>hole * SLOT, slotsBase + <usize>j * SLOT, SLOT);
      hole = j;
    }
  }
  memory.fill(slotsBase + <usize>hole * SLOT, 0, SLOT);
  count--;
  const rc = refcount + (<usize>len << 2);
  const left = load<u32>(rc) - 1;
  store<u32>(rc, left);
  if (left == 0) lengths &= ~((<u64>1) << len);
  return true;
}

/** Index of the longest matching route for `dst`, or ROUTE_NONE. */
export function fibLookup(dst: u32): i32 {
  let ls = lengths;
  while (ls != 0) {
    const len = <u32>(63 - clz(ls)); // longest remaining length
    ls &= ~((<u64>1) << len);
    const key = keyOf(dst & netmask(len), len);
    // the slot itself, not its index: no index to turn back into an address per frame
    const s = probeFind(slotsBase, SLOT, mask, hash(key), key);
    if (s != 0) return load<i32>(s, S_ROUTE);
  }
  return ROUTE_NONE;
}

@inline export function routeKind(idx: i32): u32 { return load<u32>(recBase + <usize>idx * REC, R_KIND); }
@inline export function routeNextHop(idx: i32): u32 { return load<u32>(recBase + <usize>idx * REC, R_NEXT_HOP); }
@inline export function routeVtepMac(idx: i32): u64 { return load<u64>(recBase + <usize>idx * REC, R_VTEP_MAC); }
export function fibCount(): u32 { return count; }

/** Route `idx`'s prefix << 8 | length (-1 when it is not in the table). A scan: for traces and dumps, not the hot path. */
export function routePrefix(idx: i32): i64 {
  for (let i: u32 = 0; i <= mask; i++) {
    const s = slotsBase + <usize>i * SLOT;
    const k = load<u64>(s);
    if (k != 0 && load<i32>(s, S_ROUTE) == idx) return <i64>(k & ~OCCUPIED);
  }
  return -1;
}
// layout, so the control plane can list the table as the data plane holds it (Dataplane.routes)
export function fibSlotsBase(): usize { return slotsBase; }
export function fibSlots(): u32 { return mask + 1; }
export function fibRecordsBase(): usize { return recBase; }
