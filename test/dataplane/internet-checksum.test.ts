// The JS Internet checksum against a published IPv4 header (its checksum
// 0xb861) and RFC 1071's worked example.
import { describe, it, expect } from 'vitest';
import { fillIpv4HeaderChecksum, foldComplement, sum16 } from '../../src/dataplane/internet-checksum.ts';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((x) => parseInt(x, 16)));

describe('internet checksum (JS)', () => {
  it('fills an IPv4 header checksum: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7', () => {
    const m = new Uint8Array(24).fill(0xee);
    m.set(hex('450000730000400040110000c0a80001c0a800c7'), 2);
    m[12] = 0x12; m[13] = 0x34; // whatever the field held is replaced
    fillIpv4HeaderChecksum(m, 2);
    expect([m[12], m[13]]).toEqual([0xb8, 0x61]);
    expect(foldComplement(sum16(m, 2, 22))).toBe(0); // a header with its checksum sums to 0xffff
    expect([m[0], m[1], m[22], m[23]]).toEqual([0xee, 0xee, 0xee, 0xee]);
  });

  it('RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to 0xddf2; an odd last byte is padded', () => {
    expect(foldComplement(sum16(hex('0001f203f4f5f6f7'), 0, 8))).toBe(~0xddf2 & 0xffff);
    expect(sum16(hex('0102ff'), 0, 3)).toBe(0x0102 + 0xff00);
  });
});
