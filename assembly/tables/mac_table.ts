// The bridge's forwarding database: MAC -> port, with aging on the
// control-plane clock. Open addressing, linear probing, power-of-two slots at
// most half full; deletion by backward shift (no tombstones), so lookups stop
// at the first empty slot (open_addressing.ts). Fixed capacity: when full, new MACs are not
// learned (counted) and frames to them keep flooding.
import { slotsFor, canFillHole, probeFind, probeSlot } from "./open_addressing";
import { countEv, Ev } from "../counters";

// entry layout, 16 bytes: key u64 (mac | OCCUPIED), port u32 (| STATIC), seen u32 (ms)
const ENTRY: usize = 16;
const O_PORT: usize = 8;
const O_SEEN: usize = 12;
const OCCUPIED: u64 = 1 << 63;
/**
 * A static entry (the control plane knows which port a pod is on, as a CNI
 * plugin does): never ages, never moves. Without it a pod that only receives
 * would be flooded to, since nothing here ARPs for pods (neighbours are
 * programmed), so the bridge would learn its MAC only when it speaks.
 */
const STATIC: u32 = 0x80000000;
export const NO_PORT: i32 = -1;

let base: usize = 0;
let mask: u32 = 0;       // slots - 1
let capacity: u32 = 0;   // max live entries
let count: u32 = 0;
let agingMs: u32 = 300_000; // Linux bridge default ageing_time: 300 s

export function fdbBytes(cap: u32): usize {
  return <usize>slotsFor(cap) * ENTRY;
}

export function fdbInit(at: usize, cap: u32): void {
  base = at;
  capacity = cap;
  mask = slotsFor(cap) - 1;
  count = 0;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

@inline function hash(mac: u64): u32 {
  return <u32>((mac * 0x9E3779B97F4A7C15) >> 32);
}
@inline function keyAt(i: u32): u64 { return load<u64>(base + <usize>i * ENTRY); }

/** Learn or refresh `mac` on `port` at time `now`. */
export function fdbLearn(mac: u64, port: u32, now: u32): void {
  const key = mac | OCCUPIED;
  // every frame refreshes its source: the common case is a hit (probeFind reads
  // no key twice); a new MAC probes again for its empty slot
  const e = probeFind(base, ENTRY, mask, hash(mac), key);
  if (e != 0) {
    const p = load<u32>(e, O_PORT);
    if (p == port) { store<u32>(e, now, O_SEEN); return; }
    if ((p & STATIC) != 0) return; // pinned by the control plane
    store<u32>(e, port, O_PORT);
    store<u32>(e, now, O_SEEN);
    countEv(Ev.FDB_MOVED);
    return;
  }
  if (count >= capacity) { countEv(Ev.FDB_FULL); return; }
  const free = probeSlot(base, ENTRY, mask, hash(mac), key);
  store<u64>(free, key);
  store<u32>(free, port, O_PORT);
  store<u32>(free, now, O_SEEN);
  count++;
  countEv(Ev.FDB_LEARNED);
}

/** Pin `mac` to `port` (a pod the control plane attached): replaces a learned entry. False when the table is full. */
export function fdbAddStatic(mac: u64, port: u32): bool {
  const key = mac | OCCUPIED;
  const e = probeSlot(base, ENTRY, mask, hash(mac), key);
  if (load<u64>(e) == key) { store<u32>(e, port | STATIC, O_PORT); return true; }
  if (count >= capacity) return false;
  store<u64>(e, key);
  store<u32>(e, port | STATIC, O_PORT);
  store<u32>(e, 0, O_SEEN);
  count++;
  return true;
}

/** Port of a fresh (or static) entry for `mac`, or NO_PORT (unknown or aged out). */
export function fdbLookup(mac: u64, now: u32): i32 {
  const key = mac | OCCUPIED;
  const e = probeFind(base, ENTRY, mask, hash(mac), key);
  if (e == 0) return NO_PORT;
  const p = load<u32>(e, O_PORT);
  if ((p & STATIC) != 0) return <i32>(p & ~STATIC);
  // expired once age >= ageing time, as the kernel's has_expired()
  return now - load<u32>(e, O_SEEN) < agingMs ? <i32>p : NO_PORT;
}

/** Remove slot i and shift later members of its probe run back (Knuth 6.4 Algorithm R). */
function removeAt(i: u32): void {
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const k = keyAt(j);
    if (k == 0) break;
    const home = hash(k & ~OCCUPIED) & mask;
    // can the entry at j move into the hole? only if its home is not in (hole, j]
    if (canFillHole(hole, j, home)) {
      memory.copy(base + <usize>hole * ENTRY, base + <usize>j * ENTRY, ENTRY);
      hole = j;
    }
  }
  store<u64>(base + <usize>hole * ENTRY, 0);
  store<u64>(base + <usize>hole * ENTRY, 0, O_PORT);
  count--;
}

/** Drop every entry older than the aging time. Returns how many went. Called by the control plane, not per frame. */
export function fdbExpire(now: u32): u32 {
  let removed: u32 = 0;
  let i: u32 = 0;
  while (i <= mask) {
    const e = base + <usize>i * ENTRY;
    if (load<u64>(e) != 0 && (load<u32>(e, O_PORT) & STATIC) == 0 && now - load<u32>(e, O_SEEN) >= agingMs) {
      removeAt(i);
      removed++;
      continue; // slot i may now hold a shifted entry: look again
    }
    i++;
  }
  if (removed > 0) countEv(Ev.FDB_EXPIRED, removed);
  return removed;
}

/** Forget every MAC on `port` (a port went away). */
export function fdbFlushPort(port: u32): void {
  let i: u32 = 0;
  while (i <= mask) {
    const e = base + <usize>i * ENTRY;
    if (load<u64>(e) != 0 && (load<u32>(e, O_PORT) & ~STATIC) == port) { removeAt(i); continue; }
    i++;
  }
}

export function fdbSetAging(ms: u32): void { agingMs = ms; }
export function fdbAging(): u32 { return agingMs; }
export function fdbCount(): u32 { return count; }
/** Put the entry count back with a copy of the table (a dry-run trace's snapshot: trace_session.ts). */
export function fdbRestoreCount(n: u32): void { count = n; }
export function fdbCapacity(): u32 { return capacity; }
export function fdbBase(): usize { return base; }
export function fdbSlots(): u32 { return mask + 1; }
