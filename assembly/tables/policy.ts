// NetworkPolicy tables, as the control plane compiles them
// (src/model/network-policy-compile.ts): a new connection's verdict costs a
// fixed number of hash lookups, whatever the number of policies.
//
// Four regions, carved at configure time, rewritten whole by the control
// plane (polClear, then the adds) between batches:
//  - addresses: open addressing over pod IPs. A slot is 16 bytes: ip u32
//    (0 = empty), identity u32, class u32 (the address's class, so a pod
//    peer costs no prefix scan), flags u32 (POL_LOCAL_*: a pod of this node
//    isolated for ingress / egress).
//  - classes: the ipBlock prefixes (net u32, prefix length u32), longest
//    first; class 0 is 0.0.0.0/0. Only an address that is no pod's scans it.
//  - allows: open addressing, key (local pod ip, peer, direction << 8 |
//    protocol); a slot is 24 bytes: ip u32, peer u32, dirProto u32 (0 =
//    empty: a direction is 1 or 2), first range u32, range count u32, pad.
//  - ranges: lo u16, hi u16, rule u32 (the control plane maps a rule to the
//    policy that holds it, for trace).
import { slotsFor } from "./open_addressing";

const ASLOT: usize = 16;
const A_ID: usize = 4;
const A_CLASS: usize = 8;
const A_FLAGS: usize = 12;
const RSLOT: usize = 24;
const R_PEER: usize = 4;
const R_DP: usize = 8;
const R_FIRST: usize = 12;
const R_COUNT: usize = 16;
const RANGE: usize = 8;
const CLASS: usize = 8;
/** the ipBlock prefixes a node holds at most */
const MAX_CLASSES: u32 = 256;

export const POL_LOCAL_INGRESS: u32 = 1;
export const POL_LOCAL_EGRESS: u32 = 2;
export const DIR_INGRESS: u32 = 1;
export const DIR_EGRESS: u32 = 2;
/** Address-class peers are numbered from here (as the control plane's CLASS_PEER_BASE). */
export const CLASS_PEER_BASE: u32 = 0x80000000;

let addrs: usize = 0;
let amask: u32 = 0;
let acap: u32 = 0;
let acount: u32 = 0;
let classes: usize = 0;
let ccount: u32 = 0;
let allows: usize = 0;
let rmask: u32 = 0;
let rcap: u32 = 0;
let rcount: u32 = 0;
let ranges: usize = 0;
let gcap: u32 = 0;
let gcount: u32 = 0;
/** pods of this node isolated in some direction: 0 = the policy stage has nothing to do */
let isolatedCount: u32 = 0;

/** The bytes for `cap` addresses, `cap` allow entries and 2 x `cap` port ranges. */
export function polBytes(cap: u32): usize {
  return <usize>slotsFor(cap) * ASLOT + <usize>MAX_CLASSES * CLASS + <usize>slotsFor(cap) * RSLOT + <usize>cap * 2 * RANGE;
}

export function polInit(at: usize, cap: u32): void {
  acap = cap; rcap = cap; gcap = cap * 2;
  amask = slotsFor(cap) - 1;
  rmask = slotsFor(cap) - 1;
  addrs = at;
  classes = addrs + <usize>(amask + 1) * ASLOT;
  allows = classes + <usize>MAX_CLASSES * CLASS;
  ranges = allows + <usize>(rmask + 1) * RSLOT;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
  acount = 0; ccount = 0; rcount = 0; gcount = 0; isolatedCount = 0;
}

/** Forget every policy: nothing isolated, everything allowed. */
export function polClear(): void {
  memory.fill(addrs, 0, polBytes(acap));
  acount = 0; ccount = 0; rcount = 0; gcount = 0; isolatedCount = 0;
}

@inline function mix(x: u32): u32 {
  let h = x * 0x9E3779B1;
  return h ^ (h >> 15);
}

/** A pod address: its identity, class and (for this node's pods) isolation. Returns 0, or -1 when full or ip is 0. */
export function polSetAddress(ip: u32, identity: u32, klass: u32, flags: u32): i32 {
  if (ip == 0) return -1;
  let i = mix(ip) & amask;
  while (true) {
    const s = addrs + <usize>i * ASLOT;
    const have = load<u32>(s);
    if (have == 0) {
      if (acount >= acap) return -1;
      acount++;
      store<u32>(s, ip);
    } else if (have != ip) { i = (i + 1) & amask; continue; }
    else if ((load<u32>(s, A_FLAGS) & (POL_LOCAL_INGRESS | POL_LOCAL_EGRESS)) != 0) isolatedCount--;
    store<u32>(s, identity, A_ID);
    store<u32>(s, klass, A_CLASS);
    store<u32>(s, flags, A_FLAGS);
    if ((flags & (POL_LOCAL_INGRESS | POL_LOCAL_EGRESS)) != 0) isolatedCount++;
    return 0;
  }
}

/** The slot of address `ip`, 0 when it is no pod's. */
function addrSlot(ip: u32): usize {
  if (ip == 0) return 0;
  let i = mix(ip) & amask;
  while (true) {
    const s = addrs + <usize>i * ASLOT;
    const have = load<u32>(s);
    if (have == ip) return s;
    if (have == 0) return 0;
    i = (i + 1) & amask;
  }
}

/** Append a prefix class; the control plane adds them longest first. Returns its index, -1 when full. */
export function polAddClass(net: u32, prefixLen: u32): i32 {
  if (ccount >= MAX_CLASSES || prefixLen > 32) return -1;
  const c = classes + <usize>ccount * CLASS;
  store<u32>(c, net);
  store<u32>(c, prefixLen, 4);
  ccount++;
  return <i32>(ccount - 1);
}

/** Add an allow entry's port range [lo, hi] for (local pod ip, peer, direction, protocol). 0, or -1 when full. */
export function polAddRange(ip: u32, peer: u32, dir: u32, proto: u32, lo: u32, hi: u32, rule: u32): i32 {
  if (gcount >= gcap) return -1;
  const dp = dir << 8 | proto;
  const s = allowSlot(ip, peer, dp, true);
  if (s == 0) return -1;
  const first = load<u32>(s, R_FIRST);
  const n = load<u32>(s, R_COUNT);
  // one entry's ranges are kept together: the control plane adds them entry by entry
  if (n != 0 && first + n != gcount) return -1;
  if (n == 0) store<u32>(s, gcount, R_FIRST);
  const r = ranges + <usize>gcount * RANGE;
  store<u16>(r, <u16>lo);
  store<u16>(r, <u16>hi, 2);
  store<u32>(r, rule, 4);
  gcount++;
  store<u32>(s, n + 1, R_COUNT);
  return 0;
}

function allowSlot(ip: u32, peer: u32, dp: u32, create: bool): usize {
  let i = mix(ip ^ mix(peer ^ (dp << 20))) & rmask;
  while (true) {
    const s = allows + <usize>i * RSLOT;
    const have = load<u32>(s, R_DP);
    if (have == 0) {
      if (!create || rcount >= rcap) return 0;
      rcount++;
      store<u32>(s, ip);
      store<u32>(s, peer, R_PEER);
      store<u32>(s, dp, R_DP);
      return s;
    }
    if (have == dp && load<u32>(s) == ip && load<u32>(s, R_PEER) == peer) return s;
    i = (i + 1) & rmask;
  }
}

/** Does any pod of this node have a policy? (The stage's one test when none does.) */
@inline export function polActive(): bool { return isolatedCount != 0; }

/** POL_LOCAL_* of address `ip` (0: not a pod of this node, or not isolated). */
export function polLocalFlags(ip: u32): u32 {
  const s = addrSlot(ip);
  return s == 0 ? 0 : load<u32>(s, A_FLAGS);
}

/** The class of an address: the pod's stored one, else the longest prefix holding it (class 0, 0.0.0.0/0, always does). */
function classOf(ip: u32, slot: usize): u32 {
  if (slot != 0) return load<u32>(slot, A_CLASS);
  for (let k: u32 = 0; k < ccount; k++) {
    const c = classes + <usize>k * CLASS;
    const len = load<u32>(c, 4);
    const m: u32 = len == 0 ? 0 : <u32>(0xffffffff << (32 - len));
    if ((ip & m) == load<u32>(c)) return k;
  }
  return 0;
}

/** The rule the last allowing polDecide matched (its index), or the peer it denied (for trace). */
export let polLastRule: u32 = 0;
export let polLastPeer: u32 = 0;

/**
 * May local pod `local` (isolated in `dir`) talk with `peer` over
 * `proto`/`port`? At most four allow lookups: (identity, proto), (identity,
 * any), (class, proto), (class, any).
 */
export function polDecide(local: u32, peer: u32, dir: u32, proto: u32, port: u32): bool {
  const ps = addrSlot(peer);
  const id: u32 = ps != 0 ? load<u32>(ps, A_ID) : 0;
  const klass = CLASS_PEER_BASE + classOf(peer, ps);
  polLastPeer = id != 0 ? id : klass;
  for (let k = 0; k < 2; k++) {
    const p = k == 0 ? id : klass;
    if (p == 0) continue;
    for (let j = 0; j < 2; j++) {
      const s = allowSlot(local, p, dir << 8 | (j == 0 ? proto : 0), false);
      if (s == 0) continue;
      const first = load<u32>(s, R_FIRST);
      const n = load<u32>(s, R_COUNT);
      for (let r: u32 = 0; r < n; r++) {
        const g = ranges + <usize>(first + r) * RANGE;
        if (port >= <u32>load<u16>(g) && port <= <u32>load<u16>(g, 2)) { polLastRule = load<u32>(g, 4); return true; }
      }
    }
  }
  return false;
}

export function polAddressCount(): u32 { return acount; }
export function polAllowCount(): u32 { return rcount; }
export function polCapacity(): u32 { return acap; }
