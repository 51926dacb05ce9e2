// The Internet checksum (RFC 1071) over bytes in JS, for the few headers the
// TypeScript side writes itself: probe frames (probe.ts), the outer IPv4
// header of a datagram received on a socket underlay (socket-underlay.ts),
// the IPv4 header of a coalesced super-frame (tap-gro.ts). The data plane's
// own checksums are in assembly/wire/checksum.ts.

/** One's-complement sum of the big-endian 16-bit words in b[from, to) added to `acc`, unfolded (an odd last byte is padded with zero). */
export function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  return acc;
}

/** Fold a sum16 result to 16 bits and complement it: the value a checksum field holds. */
export function foldComplement(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** Write the header checksum of the 20-byte IPv4 header (no options) at `ip` in `m`: the field zeroed, then summed. */
export function fillIpv4HeaderChecksum(m: Uint8Array, ip: number): void {
  m[ip + 10] = 0;
  m[ip + 11] = 0;
  const c = foldComplement(sum16(m, ip, ip + 20));
  m[ip + 10] = c >>> 8;
  m[ip + 11] = c & 0xff;
}
