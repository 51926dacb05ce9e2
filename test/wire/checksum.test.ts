// assembly/wire/checksum.ts: RFC 1071 against scapy's checksum(), RFC 1624
// incremental updates against recomputation from scratch.
import { describe, it, expect } from 'vitest';
import { newKit, emitted, atEnd } from './kit.ts';
import { hex, toHex, refChecksum, rd16, prng } from '../util.ts';
import { RFC1071_EXAMPLE, ODD_LENGTH, RANDOM_1001, ALL_ONES } from '../vectors/checksum.ts';
import { ICMP_ECHO_REQUEST } from '../vectors/icmp.ts';
import { TCP_DATA } from '../vectors/tcp.ts';

const k = newKit();
const f = k.fn;
const VECTORS = [['RFC1071_EXAMPLE', RFC1071_EXAMPLE], ['ODD_LENGTH', ODD_LENGTH], ['RANDOM_1001', RANDOM_1001], ['ALL_ONES', ALL_ONES]] as const;

describe('checksum: RFC 1071, full', () => {
  for (const [name, v] of VECTORS) {
    it(`${name}: equals scapy's checksum at every alignment`, () => {
      const b = hex(v.hex);
      for (let shift = 0; shift < 8; shift++) {
        const p = k.put(b, k.scratch + shift);
        expect(f.checksum(p, b.length, 0), `shift ${shift}`).toBe(v.scapyChecksum);
      }
      expect(f.checksum(atEnd(k, b), b.length, 0)).toBe(v.scapyChecksum); // reads nothing past the end
    });
  }

  it('the reference implementation the random tests use agrees with scapy', () => {
    for (const [, v] of VECTORS) expect(refChecksum(hex(v.hex))).toBe(v.scapyChecksum);
  });

  it('RFC 1071 section 3 example: the folded sum is 0xddf2', () => {
    expect(f.sum16(k.put(hex(RFC1071_EXAMPLE.hex)), 8)).toBe(0xddf2);
  });

  it('sum16 of nothing is 0; of 64 KiB of 0xff is 0xffff (no overflow of the accumulator)', () => {
    expect(f.sum16(k.scratch, 0)).toBe(0);
    k.fill(k.scratch, 65536, 0xff);
    expect(f.sum16(k.scratch, 65536)).toBe(0xffff);
    // odd: 32767 words of -0 and a last byte 0xff padded to 0xff00
    expect(f.sum16(k.scratch, 65535)).toBe(0xff00);
    expect(f.checksum(k.scratch, 65535, 0)).toBe(refChecksum(k.read(k.scratch, 65535)));
  });

  it('5,000 random buffers (0..1600 bytes, any alignment) equal the textbook loop', () => {
    const r = prng(1071);
    for (let n = 0; n < 5000; n++) {
      const b = r.bytes(r.int(1601));
      const p = k.put(b, k.scratch + r.int(8));
      const init = r.chance(0.5) ? r.int(0x60000) : 0;
      const got = f.checksum(p, b.length, init);
      const want = refChecksum(b, init);
      if (got !== want) expect(got, `case ${n} (${b.length} bytes, initial ${init})`).toBe(want);
    }
  });

  it('initial value = a pseudo-header folded in: same as summing its bytes in front', () => {
    const tcp = hex(TCP_DATA.hex).subarray(34);
    const src = hex(TCP_DATA.hex).subarray(26, 30), dst = hex(TCP_DATA.hex).subarray(30, 34);
    const ph = Uint8Array.from([...src, ...dst, 0, 6, tcp.length >> 8, tcp.length & 0xff]);
    const p = k.put(tcp);
    const init = f.ipv4PseudoSum(rd16(src, 0) * 65536 + rd16(src, 2), rd16(dst, 0) * 65536 + rd16(dst, 2), 6, tcp.length);
    expect(f.checksum(p, tcp.length, init)).toBe(refChecksum(Uint8Array.from([...ph, ...tcp])));
    expect(f.checksum(p, tcp.length, init)).toBe(0); // scapy's checksum verifies
  });

  it('big-endian helpers: be16/be32 and their setters', () => {
    const p = k.put(hex('0102030405'));
    expect(f.be16(p)).toBe(0x0102);
    expect(f.be32(p + 1)).toBe(0x02030405);
    expect(toHex(emitted(k, 4, (q) => f.setBe32(q, 0xdeadbeef)))).toBe('deadbeef');
    expect(toHex(emitted(k, 2, (q) => f.setBe16(q, 0xbeef)))).toBe('beef');
  });
});

describe('checksum: RFC 1624, incremental', () => {
  /**
   * A random buffer with its checksum at `at`; change `width` bytes at `off`
   * to `nv` and return [incremental, from scratch].
   */
  function both(r: ReturnType<typeof prng>, width: 2 | 4): [number, number] {
    const words = 4 + r.int(30);
    const b = r.bytes(words * 4);
    const at = 2 * r.int(words * 2);
    b[at] = b[at + 1] = 0;
    const c0 = refChecksum(b);
    b[at] = c0 >> 8; b[at + 1] = c0 & 0xff;
    let off: number;
    do off = width * r.int((words * 4) / width); while (off <= at + 1 && off + width > at);
    const dv = new DataView(b.buffer);
    const ov = width === 2 ? dv.getUint16(off) : dv.getUint32(off);
    const nv = r.chance(0.05) ? ov : (width === 2 ? r.int(0x10000) : r.u32());
    const incr = width === 2 ? f.csumUpdate16(c0, ov, nv) : f.csumUpdate32(c0, ov, nv);
    if (width === 2) dv.setUint16(off, nv); else dv.setUint32(off, nv);
    b[at] = b[at + 1] = 0;
    return [incr, refChecksum(b)];
  }

  it('csumUpdate16: 20,000 random buffers and field changes equal recomputation', () => {
    const r = prng(16);
    for (let n = 0; n < 20_000; n++) {
      const [incr, fresh] = both(r, 2);
      if (incr !== fresh) expect(incr, `case ${n}`).toBe(fresh);
    }
  });

  it('csumUpdate32: 20,000 random buffers and address changes equal recomputation', () => {
    const r = prng(32);
    for (let n = 0; n < 20_000; n++) {
      const [incr, fresh] = both(r, 4);
      if (incr !== fresh) expect(incr, `case ${n}`).toBe(fresh);
    }
  });

  it('the -0/+0 corner (RFC 1624 section 3): eqn. 3 gives 0x0000 where eqn. 2 gave 0xffff', () => {
    // header whose other words sum to 0xcd7a, field m = 0x5555 -> HC = 0xdd2f; m' = 0x3285
    const b = hex('cd7a' + '5555' + '0000');
    expect(refChecksum(b)).toBe(0xdd2f);
    const hc = 0xdd2f, m = 0x5555, m2 = 0x3285;
    const eqn3 = f.csumUpdate16(hc, m, m2);
    const recomputed = refChecksum(hex('cd7a' + '3285' + '0000'));
    expect(recomputed).toBe(0x0000);
    expect(eqn3).toBe(recomputed);
    // RFC 1141's eqn. 2, HC' = HC + m + ~m' (one's complement), is what the code must NOT do
    let s = hc + m + (~m2 & 0xffff);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    expect(s).toBe(0xffff);
    expect(eqn3).not.toBe(s);
  });

  it('the same corner through a 32-bit field', () => {
    // words: 0xcd7a, then a 32-bit field 0x5555_0000 -> 0x3285_0000
    const before = hex('cd7a' + '55550000' + '0000');
    const hc = refChecksum(before);
    expect(f.csumUpdate32(hc, 0x55550000, 0x32850000)).toBe(refChecksum(hex('cd7a' + '32850000' + '0000')));
    expect(f.csumUpdate32(hc, 0x55550000, 0x32850000)).toBe(0x0000);
  });

  it('no change, any checksum: the checksum stays (except 0xffff/0x0000, the two zeros)', () => {
    const r = prng(0);
    for (let n = 0; n < 2000; n++) {
      const hc = 1 + r.int(0xfffe), m = r.int(0x10000);
      expect(f.csumUpdate16(hc, m, m)).toBe(hc);
    }
  });

  it('an update on a real header: the echo request\'s TTL/protocol word', () => {
    const ipHdr = hex(ICMP_ECHO_REQUEST.hex).subarray(14, 34).slice();
    const hc = rd16(ipHdr, 10);
    const ov = rd16(ipHdr, 8);
    ipHdr[8] = 17; // TTL 64 -> 17
    const nv = rd16(ipHdr, 8);
    ipHdr[10] = ipHdr[11] = 0;
    expect(f.csumUpdate16(hc, ov, nv)).toBe(refChecksum(ipHdr));
  });
});
