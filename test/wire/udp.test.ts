// assembly/wire/udp.ts against UDP datagrams scapy built (test/vectors/udp.ts).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd, POISON } from './kit.ts';
import { hex, ip, toHex } from '../util.ts';
import { UDP_DNS, UDP_ZERO_CSUM, UDP_EMPTY } from '../vectors/udp.ts';

const k = newKit();
const f = k.fn;
const IPPROTO_UDP = 17;
type V = { hex: string; ip: { src: string; dst: string }; udp: { sport: number; dport: number; len: number; chksum: number } };
const ALL: [string, V][] = [['UDP_DNS', UDP_DNS], ['UDP_ZERO_CSUM', UDP_ZERO_CSUM], ['UDP_EMPTY', UDP_EMPTY]];
const dgram = (v: V) => hex(v.hex).subarray(34);

describe('udp: parse scapy datagrams', () => {
  for (const [name, v] of ALL) {
    it(`${name}: ports, length, checksum; the checksum verifies with the pseudo-header`, () => {
      const b = dgram(v);
      const p = atEnd(k, b);
      expect(f.udpCheck(p, b.length)).toBe(true);
      expect(f.udpSrcPort(p)).toBe(v.udp.sport);
      expect(f.udpDstPort(p)).toBe(v.udp.dport);
      expect(f.udpLength(p)).toBe(v.udp.len);
      expect(f.udpChecksum(p)).toBe(v.udp.chksum);
      const ps = f.ipv4PseudoSum(ip(v.ip.src), ip(v.ip.dst), IPPROTO_UDP, b.length);
      expect(f.checksum(p, b.length, ps)).toBe(0);
    });
  }

  it('refuses a length field below 8 or beyond the bytes present', () => {
    const b = dgram(UDP_DNS).slice();
    for (const l of [0, 1, 7]) {
      b[4] = 0; b[5] = l;
      expect(f.udpCheck(k.put(b), b.length), `length ${l}`).toBe(false);
    }
    b[4] = 0; b[5] = b.length + 1;
    expect(f.udpCheck(k.put(b), b.length)).toBe(false);
    b[5] = 8; // shorter than the buffer is fine (trailing bytes)
    expect(f.udpCheck(k.put(b), b.length)).toBe(true);
  });
});

describe('udp: emit into 0xa5-filled memory', () => {
  for (const [name, v] of ALL) {
    it(`udpEmit + udpFillChecksum reproduce ${name} byte for byte`, () => {
      const want = dgram(v);
      const pre = want.slice();
      pre.fill(POISON, 0, 8);
      const got = emitted(k, want.length, (p) => {
        f.udpEmit(p, v.udp.sport, v.udp.dport, want.length);
        f.udpFillChecksum(p, ip(v.ip.src), ip(v.ip.dst));
      }, pre);
      expect(toHex(got)).toBe(toHex(want));
    });
  }

  it('a checksum that computes to 0 goes out as 0xffff (RFC 768), as scapy sends it', () => {
    expect(UDP_ZERO_CSUM.udp.chksum).toBe(0xffff);
    const p = k.put(dgram(UDP_ZERO_CSUM));
    f.udpFillChecksum(p, ip(UDP_ZERO_CSUM.ip.src), ip(UDP_ZERO_CSUM.ip.dst));
    expect(f.udpChecksum(p)).toBe(0xffff);
  });

  it('udpEmit alone writes 0 ("no checksum") and all 8 header bytes', () => {
    expect(toHex(emitted(k, 8, (p) => f.udpEmit(p, 0x1234, 0xfedc, 0x0abc)))).toBe('1234fedc0abc0000');
  });

  it('setters write only their own field', () => {
    const pre = new Uint8Array(8).fill(POISON);
    expect(toHex(emitted(k, 8, (p) => f.setUdpSrcPort(p, 0xbeef), pre))).toBe('beef' + 'a5'.repeat(6));
    expect(toHex(emitted(k, 8, (p) => f.setUdpDstPort(p, 0xbeef), pre))).toBe('a5a5beef' + 'a5'.repeat(4));
    expect(toHex(emitted(k, 8, (p) => f.setUdpChecksum(p, 0xbeef), pre))).toBe('a5'.repeat(6) + 'beef');
  });
});

describe('udp: truncated datagrams', () => {
  it('every prefix shorter than the datagram is refused, without reading past it', () => {
    for (const [name, v] of ALL) {
      const b = dgram(v);
      for (const { p, len } of prefixesAtEnd(k, b, b.length)) {
        expect(f.udpCheck(p, len), `${name}: ${len} bytes`).toBe(false);
      }
      expect(f.udpCheck(atEnd(k, b), b.length)).toBe(true);
    }
  });
});
