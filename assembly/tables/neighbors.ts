// IPv4 neighbours: address -> MAC, on the bridge (the node's pods) and on the
// underlay (other nodes). Programmed by the control plane, which knows every
// pod and node it created, as a CNI plugin does; no ARP resolution in the
// hot path. Open addressing with backward-shift delete, like mac_table.ts.
import { slotsFor, canFillHole, probeFind, probeSlot } from "./open_addressing";

// slot, 16 bytes: ip u32 | OCCUPIED(bit 32) as u64 key, mac u64
const SLOT: usize = 16;
const OCCUPIED: u64 = 1 << 32;
const O_MAC: usize = 8;
export const NO_MAC: u64 = 0;

let base: usize = 0;
let mask: u32 = 0;
let capacity: u32 = 0;
let count: u32 = 0;

export function neighBytes(cap: u32): usize { return <usize>slotsFor(cap) * SLOT; }

export function neighInit(at: usize, cap: u32): void {
  base = at;
  capacity = cap;
  mask = slotsFor(cap) - 1;
  count = 0;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

@inline function hash(ip: u32): u32 { return (ip * 0x9E3779B1) >> 7; }

/** MAC for `ip`, or NO_MAC. */
export function neighLookup(ip: u32): u64 {
  const key = <u64>ip | OCCUPIED;
  const s = probeFind(base, SLOT, mask, hash(ip), key);
  return s == 0 ? NO_MAC : load<u64>(s, O_MAC);
}

/** Set `ip` -> `mac`. False when the table is full. */
export function neighSet(ip: u32, mac: u64): bool {
  const key = <u64>ip | OCCUPIED;
  const s = probeSlot(base, SLOT, mask, hash(ip), key);
  if (load<u64>(s) == key) { store<u64>(s, mac, O_MAC); return true; }
  if (count >= capacity) return false;
  store<u64>(s, key);
  store<u64>(s, mac, O_MAC);
  count++;
  return true;
}

export function neighDel(ip: u32): bool {
  const key = <u64>ip | OCCUPIED;
  const at = probeFind(base, SLOT, mask, hash(ip), key);
  if (at == 0) return false;
  let hole = <u32>((at - base) / SLOT);
  let j = hole;
  while (true) {
    j = (j + 1) & mask;
    const k = load<u64>(base + <usize>j * SLOT);
    if (k == 0) break;
    const home = hash(<u32>k) & mask;
    if (canFillHole(hole, j, home)) {
      memory.copy(base + <usize>hole * SLOT, base + <usize>j * SLOT, SLOT);
      hole = j;
    }
  }
  memory.fill(base + <usize>hole * SLOT, 0, SLOT);
  count--;
  return true;
}

export function neighCount(): u32 { return count; }
/** Put the entry count back with a copy of the table (a dry-run trace's snapshot: trace_session.ts). */
export function neighRestoreCount(n: u32): void { count = n; }
// layout, so the control plane can list the table (Dataplane.neighbors)
export function neighBase(): usize { return base; }
export function neighSlots(): u32 { return mask + 1; }
