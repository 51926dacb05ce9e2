// What every fixed-capacity table here shares: linear probing over a
// power-of-two slot array kept sparse, and deletion by backward shift
// (Knuth 6.4, Algorithm R), so lookups stop at the first empty slot and no
// tombstones build up. Each table keeps its own loop (slot layout, empty
// test and hash differ); the sizing and the subtle test live here.

/** Slots for at most `cap` live entries, keeping the array at most 1/`spread` full: a power of two, at least 16. */
export function slotsFor(cap: u32, spread: u32 = 2): u32 {
  let s: u32 = 16;
  while (<u64>s < <u64>cap * <u64>spread) s <<= 1;
  return s;
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
