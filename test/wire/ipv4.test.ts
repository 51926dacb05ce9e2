// assembly/wire/ipv4.ts against IPv4 headers scapy built (test/vectors/ipv4.ts
// and the IPv4 headers inside the ICMP/UDP/TCP vectors).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd, POISON } from './kit.ts';
import { hex, ip, toHex, refChecksum, rd16, prng } from '../util.ts';
import { IPV4_UDP, IPV4_OPTIONS, IPV4_FRAGMENT, IPV4_SHORT_PAYLOAD } from '../vectors/ipv4.ts';
import { ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY_ODD } from '../vectors/icmp.ts';
import { UDP_DNS } from '../vectors/udp.ts';
import { TCP_SYN_OPTIONS, TCP_ALL_FLAGS } from '../vectors/tcp.ts';

const k = newKit();
const f = k.fn;
const OK = f.IPV4_OK();
const TRUNCATED = f.IPV4_TRUNCATED();

type IpFields = { version: number; ihl: number; tos: number; len: number; id: number; flags: number; frag: number; ttl: number; proto: number; chksum: number; src: string; dst: string };
type IpVector = { hex: string; ip: IpFields };
const FRAMES: [string, IpVector][] = [
  ['IPV4_UDP', IPV4_UDP], ['IPV4_OPTIONS', IPV4_OPTIONS], ['IPV4_FRAGMENT', IPV4_FRAGMENT],
  ['ICMP_ECHO_REQUEST', ICMP_ECHO_REQUEST], ['ICMP_ECHO_REPLY_ODD', ICMP_ECHO_REPLY_ODD],
  ['UDP_DNS', UDP_DNS], ['TCP_SYN_OPTIONS', TCP_SYN_OPTIONS], ['TCP_ALL_FLAGS', TCP_ALL_FLAGS],
];
/** The IPv4 packet of an Ethernet vector (untagged: from byte 14). */
const packet = (v: IpVector) => hex(v.hex).subarray(14);

/** Copy of `b` with byte `off` set to `val` and the header checksum made right again. */
function mutate(b: Uint8Array, off: number, val: number, hlen = 20): Uint8Array {
  const c = b.slice();
  c[off] = val;
  c[10] = c[11] = 0;
  const sum = refChecksum(c.subarray(0, hlen));
  c[10] = sum >> 8;
  c[11] = sum & 0xff;
  return c;
}

describe('ipv4: parse scapy packets', () => {
  for (const [name, v] of FRAMES) {
    it(`${name}: check OK and every field as scapy reads it`, () => {
      const b = packet(v);
      const p = atEnd(k, b);
      const x = v.ip;
      expect(f.ipv4Check(p, b.length)).toBe(OK);
      expect(f.ipv4Version(p)).toBe(x.version);
      expect(f.ipv4HeaderLen(p)).toBe(x.ihl * 4);
      expect(f.ipv4TotalLen(p)).toBe(x.len);
      expect(f.ipv4Ident(p)).toBe(x.id);
      expect(f.ipv4FlagsFrag(p)).toBe((x.flags << 13) | x.frag);
      expect(f.ipv4Ttl(p)).toBe(x.ttl);
      expect(f.ipv4Proto(p)).toBe(x.proto);
      expect(f.ipv4Checksum(p)).toBe(x.chksum);
      expect(f.ipv4Src(p)).toBe(ip(x.src));
      expect(f.ipv4Dst(p)).toBe(ip(x.dst));
    });
  }

  it('trailing bytes after the total length (Ethernet padding) are fine', () => {
    const b = new Uint8Array(packet(IPV4_UDP).length + 11);
    b.set(packet(IPV4_UDP));
    expect(f.ipv4Check(atEnd(k, b), b.length)).toBe(OK);
  });

  it('names each defect: version, IHL, total length, checksum', () => {
    const good = packet(IPV4_UDP);
    const check = (b: Uint8Array) => f.ipv4Check(k.put(b), b.length);
    expect(check(mutate(good, 0, 0x65))).toBe(f.IPV4_BAD_VERSION());
    expect(check(mutate(good, 0, 0x44))).toBe(f.IPV4_BAD_IHL());
    expect(check(mutate(good, 0, 0x40))).toBe(f.IPV4_BAD_IHL());
    expect(check(mutate(mutate(good, 2, 0), 3, 19))).toBe(f.IPV4_BAD_TOTAL_LEN());
    expect(check(mutate(mutate(good, 2, 0), 3, 0))).toBe(f.IPV4_BAD_TOTAL_LEN());
    const bad = good.slice();
    bad[10] ^= 0x01;
    expect(check(bad)).toBe(f.IPV4_BAD_CHECKSUM());
    const bad2 = good.slice();
    bad2[19] ^= 0x80; // a covered byte, not the checksum itself
    expect(check(bad2)).toBe(f.IPV4_BAD_CHECKSUM());
    // an option byte is covered too (IHL 6)
    const opt = packet(IPV4_OPTIONS).slice();
    opt[22] ^= 0xff;
    expect(check(opt)).toBe(f.IPV4_BAD_CHECKSUM());
  });
});

describe('ipv4: emit into 0xa5-filled memory', () => {
  for (const [name, v] of FRAMES.filter(([, v]) => v.ip.ihl === 5 && v.ip.tos === 0)) {
    it(`ipv4Emit reproduces ${name}'s header byte for byte`, () => {
      const x = v.ip;
      const got = emitted(k, 20, (p) => f.ipv4Emit(p, x.len, x.id, (x.flags << 13) | x.frag, x.ttl, x.proto, ip(x.src), ip(x.dst)));
      expect(toHex(got)).toBe(toHex(packet(v).subarray(0, 20)));
    });
  }

  it('ipv4FillChecksum covers the options (IHL 6) and matches scapy', () => {
    const want = packet(IPV4_OPTIONS).subarray(0, 24);
    const pre = want.slice();
    pre[10] = pre[11] = POISON;
    const got = emitted(k, 24, (p) => f.ipv4FillChecksum(p), pre);
    expect(toHex(got)).toBe(toHex(want));
  });

  it('setters write only their own field', () => {
    const pre = new Uint8Array(20).fill(POISON);
    expect(toHex(emitted(k, 20, (p) => f.setIpv4Src(p, ip('192.168.255.254')), pre)))
      .toBe('a5'.repeat(12) + 'c0a8fffe' + 'a5'.repeat(4));
    expect(toHex(emitted(k, 20, (p) => f.setIpv4Dst(p, ip('172.16.0.1')), pre)))
      .toBe('a5'.repeat(16) + 'ac100001');
    expect(toHex(emitted(k, 20, (p) => f.setIpv4Checksum(p, 0x1234), pre)))
      .toBe('a5'.repeat(10) + '1234' + 'a5'.repeat(8));
  });
});

describe('ipv4: TTL decrement with RFC 1624 incremental checksum', () => {
  it('on scapy packets: TTL - 1 and the checksum a recomputation gives', () => {
    for (const [name, v] of FRAMES) {
      const b = packet(v);
      const hlen = v.ip.ihl * 4;
      const p = k.put(b);
      expect(f.ipv4DecTtl(p), name).toBe((v.ip.ttl - 1) & 0xff);
      const after = k.read(p, hlen);
      expect(after[8]).toBe((v.ip.ttl - 1) & 0xff);
      const fresh = after.slice();
      fresh[10] = fresh[11] = 0;
      expect(rd16(after, 10), name).toBe(refChecksum(fresh));
      expect(f.ipv4Check(p, b.length), name).toBe(OK);
    }
  });

  it('10,000 random headers (IHL 5..15, every TTL incl. 0 -> 255): equals ipv4FillChecksum from scratch', () => {
    const r = prng(1624);
    for (let n = 0; n < 10_000; n++) {
      const ihl = 5 + r.int(11);
      const h = r.bytes(ihl * 4);
      h[0] = 0x40 | ihl;
      const p = k.put(h);
      f.ipv4FillChecksum(p);
      const q = k.put(k.read(p, ihl * 4), p + 64);
      f.ipv4DecTtl(p);
      // reference: same change, checksum from scratch
      k.mem[q + 8] = (k.mem[q + 8] - 1) & 0xff;
      f.ipv4FillChecksum(q);
      const a = k.read(p, ihl * 4);
      const b = k.read(q, ihl * 4);
      if (toHex(a) !== toHex(b)) expect(toHex(a), `case ${n}`).toBe(toHex(b));
    }
  });
});

describe('ipv4: pseudo-header sum', () => {
  it('folds to the same value as the textbook sum over the 12 pseudo-header bytes', () => {
    const r = prng(768);
    for (let n = 0; n < 2000; n++) {
      const src = r.u32(), dst = r.u32(), proto = r.int(256), l4 = r.int(65536);
      const ph = new Uint8Array(12);
      const dv = new DataView(ph.buffer);
      dv.setUint32(0, src);
      dv.setUint32(4, dst);
      ph[9] = proto;
      dv.setUint16(10, l4);
      const folded = f.fold16(f.ipv4PseudoSum(src, dst, proto, l4));
      expect((~folded & 0xffff) || 0xffff).toBe(refChecksum(ph) || 0xffff);
    }
  });
});

describe('ipv4: truncated packets', () => {
  it('every prefix shorter than the total length is TRUNCATED, without reading past it', () => {
    for (const [name, v] of FRAMES) {
      const b = packet(v);
      for (const { p, len } of prefixesAtEnd(k, b, b.length)) {
        expect(f.ipv4Check(p, len), `${name}: ${len} bytes`).toBe(TRUNCATED);
      }
    }
  });

  it('IHL 6 with only 20..23 bytes present is TRUNCATED (the options are missing)', () => {
    const b = packet(IPV4_OPTIONS);
    for (let len = 20; len < 24; len++) {
      expect(f.ipv4Check(atEnd(k, b.subarray(0, len)), len)).toBe(TRUNCATED);
    }
  });

  it('scapy\'s packet that lost its last 8 bytes is TRUNCATED', () => {
    const b = hex(IPV4_SHORT_PAYLOAD.hex);
    expect(IPV4_SHORT_PAYLOAD.ip.len).toBe(b.length + 8);
    expect(f.ipv4Check(atEnd(k, b), b.length)).toBe(TRUNCATED);
  });
});
