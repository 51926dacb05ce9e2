// What every fixed-capacity table here shares: linear probing over a
// power-of-two slot array kept sparse, and deletion by backward shift
// (Knuth 6.4, Algorithm R), so lookups stop at the first empty slot and no
// tombstones build up. The sizing, the probe and the subtle test live here.
//
// The probe serves the tables whose slot starts with its whole u64 key, 0
// meaning empty (mac_table, neighbors, fib). The others have another shape
// and keep their own loop: services' key may be 0 (its empty mark is the
// service reference after it); conntrack's slots hold an entry reference and
// hash, the key being compared in the entry; affinity is set-associative (a
// bucket of four ways, no probe run); frag_queue scans its few queues.

/** Slots for at most `cap` live entries, keeping the array at most 1/`spread` full: a power of two, at least 16. */
export function slotsFor(cap: u32, spread: u32 = 2): u32 {
  let s: u32 = 16;
  while (<u64>s < <u64>cap * <u64>spread) s <<= 1;
  return s;
}

// The probe, for tables whose slots start with their u64 key, 0 for an empty
// slot: `mask + 1` slots of `stride` bytes at `base`, the run starting at
// slot `home & mask`; `key` is never 0. The table must keep an empty slot
// (slotsFor sizes it so). Two forms, as the callers need them: a lookup
// wants the key's slot or nothing (tested in the loop, so the caller reads
// no key again), an insert the slot to write.

/** The address of the slot holding `key`, or 0 when it is absent. */
@inline export function probeFind(base: usize, stride: usize, mask: u32, home: u32, key: u64): usize {
  let i = home & mask;
  while (true) {
    const s = base + <usize>i * stride;
    const k = load<u64>(s);
    if (k == key) return s;
    if (k == 0) return 0;
    i = (i + 1) & mask;
  }
}

/** The address of the slot holding `key`, or of the empty slot that ends its run (where it goes); the caller tells which by its key. */
@inline export function probeSlot(base: usize, stride: usize, mask: u32, home: u32, key: u64): usize {
  let i = home & mask;
  while (true) {
    const s = base + <usize>i * stride;
    const k = load<u64>(s);
    if (k == key || k == 0) return s;
    i = (i + 1) & mask;
  }
}

/**
 * Algorithm R: may the entry in slot `j`, whose home slot is `home`, move
 * back into the empty slot `hole` (probing from hole to j, cyclically)? Only
 * if its home does not lie in (hole, j]: otherwise a lookup starting at its
 * home would stop at the hole before reaching it.
 */
@inline export function canFillHole(hole: u32, j: u32, home: u32): bool {
  return hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
}
