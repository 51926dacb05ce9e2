// Small helpers shared by the wire, data-plane and tshark tests.
import { ipv4ToInt, macToBigInt } from '../src/model/addr.ts';

/** Hex string (as in test/vectors/*.ts) to bytes. */
export function hex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-f]/i.test(s)) throw new Error(`bad hex string: ${s.slice(0, 40)}...`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}
export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** "10.244.0.1" -> 0x0af40001 (the wire modules' u32 form). */
export const ip = ipv4ToInt;
/** "0a:58:..." -> the wire modules' u64 form (byte 0 in the low bits). */
export const mac = macToBigInt;

/** Big-endian 16/32-bit reads from a byte array. */
export const rd16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
export const rd32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/**
 * Reference Internet checksum (RFC 1071), the textbook loop: 16-bit
 * big-endian words, odd byte padded with zero, end-around carry, complement.
 * Deliberately naive and independent of assembly/wire/checksum.ts.
 */
export function refChecksum(b: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.length % 2) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Seeded PRNG (mulberry32): reproducible "random" inputs. */
export function prng(seed: number): { u32(): number; int(n: number): number; bytes(n: number): Uint8Array; chance(p: number): boolean } {
  let a = seed >>> 0;
  const u32 = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    u32,
    int: (n: number) => u32() % n,
    bytes: (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = u32() & 0xff; return b; },
    chance: (p: number) => u32() / 0x100000000 < p,
  };
}
