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

/**
 * Linear probe from slot `home & mask` for `key` (never 0) over `mask + 1`
 * slots of `stride` bytes at `base`, each starting with its u64 key (0 for
 * an empty slot): the index of the slot holding `key`, or of the empty slot
 * that ends its run (where it would be inserted); the caller tells which by
 * its key. The table must keep an empty slot (slotsFor sizes it so).
 */
@inline export function probe(base: usize, stride: usize, mask: u32, home: u32, key: u64): u32 {
  let i = home & mask;
  while (true) {
    const k = load<u64>(base + <usize>i * stride);
    if (k == key || k == 0) return i;
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
