// Internet checksum: RFC 1071 (full) and RFC 1624 (incremental update).

/** One's-complement sum of `len` bytes at `p`, folded to 16 bits, as a big-endian value. Not complemented. */
export function sum16(p: usize, len: u32): u32 {
  let acc: u64 = 0;
  let i: u32 = 0;
  // 8 bytes at a time: big-endian 16-bit words summed as pairs of 32-bit halves
  // keep their relative order, so summing little-endian words and swapping at
  // the end is the same one's-complement value (RFC 1071 §2(B)).
  while (i + 8 <= len) {
    const w = load<u64>(p + i);
    acc += (w & 0xffffffff) + (w >> 32);
    i += 8;
  }
  while (i + 2 <= len) {
    acc += <u64>load<u16>(p + i);
    i += 2;
  }
  if (i < len) acc += <u64>load<u8>(p + i);
  // fold to 32 bits, then swap byte order (we summed little-endian words)
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  let s = <u32>acc;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>bswap<u16>(<u16>s);
}

/**
 * sum16 for exactly 20 bytes (an IPv4 header without options, the common
 * case, summed twice per routed hop): five loads, no loop.
 */
@inline export function sum20(p: usize): u32 {
  let acc: u64 = <u64>load<u32>(p) + <u64>load<u32>(p, 4) + <u64>load<u32>(p, 8) + <u64>load<u32>(p, 12) + <u64>load<u32>(p, 16);
  acc = (acc & 0xffffffff) + (acc >> 32);
  let s = <u32>acc + <u32>(acc >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>bswap<u16>(<u16>s);
}

/** Fold a 32-bit one's-complement accumulator to 16 bits. */
@inline export function fold16(s: u32): u32 {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s;
}

/** Final checksum value (complemented) of `len` bytes at `p` plus `initial` (a big-endian-valued partial sum). */
export function checksum(p: usize, len: u32, initial: u32 = 0): u16 {
  return <u16>~fold16(sum16(p, len) + initial);
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit field changing from `old` to `new`.
 * Equals a recomputation from scratch (including the -0 case, HC' = 0x0000
 * where RFC 1141's eqn. 2 gave 0xffff) unless the new data is all zero, where
 * only 0xffff verifies and eqn. 3 gives 0x0000; an IPv4 header never is.
 */
@inline export function csumUpdate16(hc: u16, oldv: u16, newv: u16): u16 {
  const s = <u32>(~hc & 0xffff) + <u32>(~oldv & 0xffff) + <u32>newv;
  return <u16>~fold16(s);
}

/** RFC 1624 for a 32-bit field (e.g. an IPv4 address in a pseudo-header). */
@inline export function csumUpdate32(hc: u16, oldv: u32, newv: u32): u16 {
  const s = <u32>(~hc & 0xffff)
    + ((~oldv >> 16) & 0xffff) + (~oldv & 0xffff)
    + (newv >> 16) + (newv & 0xffff);
  return <u16>~fold16(s);
}

/** Big-endian 16-bit load/store helpers used by every header module. */
@inline export function be16(p: usize): u16 { return bswap<u16>(load<u16>(p)); }
@inline export function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline export function setBe16(p: usize, v: u16): void { store<u16>(p, bswap<u16>(v)); }
@inline export function setBe32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }
