// assembly/wire/tcp.ts against TCP segments scapy built (test/vectors/tcp.ts).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd, POISON } from './kit.ts';
import { hex, ip, toHex } from '../util.ts';
import { TCP_SYN_OPTIONS, TCP_DATA, TCP_ALL_FLAGS } from '../vectors/tcp.ts';

const k = newKit();
const f = k.fn;
const IPPROTO_TCP = 6;
const ALL = [['TCP_SYN_OPTIONS', TCP_SYN_OPTIONS], ['TCP_DATA', TCP_DATA], ['TCP_ALL_FLAGS', TCP_ALL_FLAGS]] as const;
const seg = (h: string) => hex(h).subarray(34);

describe('tcp: parse scapy segments', () => {
  for (const [name, v] of ALL) {
    it(`${name}: header length from the data offset and every field`, () => {
      const b = seg(v.hex);
      const p = atEnd(k, b);
      const t = v.tcp;
      expect(f.tcpHeaderLen(p, b.length)).toBe(t.dataofs * 4);
      expect(f.tcpSrcPort(p)).toBe(t.sport);
      expect(f.tcpDstPort(p)).toBe(t.dport);
      expect(f.tcpSeq(p)).toBe(t.seq);
      expect(f.tcpAck(p)).toBe(t.ack);
      expect(f.tcpFlags(p)).toBe(t.flags & 0xff); // the low 8 flag bits (CWR..FIN) live in byte 13
      expect(f.tcpWindow(p)).toBe(t.window);
      expect(f.tcpChecksum(p)).toBe(t.chksum);
      expect(f.be16(p + 18)).toBe(t.urgptr);
      const ps = f.ipv4PseudoSum(ip(v.ip.src), ip(v.ip.dst), IPPROTO_TCP, b.length);
      expect(f.checksum(p, b.length, ps)).toBe(0);
    });
  }

  it('a data offset below 5 words is refused', () => {
    const b = seg(TCP_ALL_FLAGS.hex).slice();
    for (const off of [0, 1, 4]) {
      b[12] = (off << 4) | (b[12] & 0x0f);
      expect(f.tcpHeaderLen(k.put(b), b.length), `offset ${off}`).toBe(0);
    }
  });
});

describe('tcp: checksum and setters into 0xa5-filled memory', () => {
  for (const [name, v] of ALL) {
    it(`tcpFillChecksum reproduces ${name}'s checksum (options and odd payloads covered)`, () => {
      const want = seg(v.hex);
      const pre = want.slice();
      pre[16] = pre[17] = POISON;
      const got = emitted(k, want.length, (p) => f.tcpFillChecksum(p, want.length, ip(v.ip.src), ip(v.ip.dst)), pre);
      expect(toHex(got)).toBe(toHex(want));
    });
  }

  it('setters write only their own field', () => {
    const pre = new Uint8Array(20).fill(POISON);
    expect(toHex(emitted(k, 20, (p) => f.setTcpSrcPort(p, 0x1f90), pre))).toBe('1f90' + 'a5'.repeat(18));
    expect(toHex(emitted(k, 20, (p) => f.setTcpDstPort(p, 0x1f90), pre))).toBe('a5a51f90' + 'a5'.repeat(16));
    expect(toHex(emitted(k, 20, (p) => f.setTcpChecksum(p, 0x1f90), pre))).toBe('a5'.repeat(16) + '1f90a5a5');
    expect(toHex(emitted(k, 20, (p) => f.setTcpSeq(p, 0xfedcba98), pre))).toBe('a5'.repeat(4) + 'fedcba98' + 'a5'.repeat(12));
    expect(toHex(emitted(k, 20, (p) => f.setTcpFlags(p, 0x99), pre))).toBe('a5'.repeat(13) + '99' + 'a5'.repeat(6));
  });
});

describe('tcp: truncated segments', () => {
  it('every prefix shorter than the header its data offset claims is refused, without reading past it', () => {
    for (const [name, v] of ALL) {
      const b = seg(v.hex);
      const hlen = v.tcp.dataofs * 4;
      for (const { p, len } of prefixesAtEnd(k, b, hlen)) {
        expect(f.tcpHeaderLen(p, len), `${name}: ${len} bytes`).toBe(0);
      }
      expect(f.tcpHeaderLen(atEnd(k, b.subarray(0, hlen)), hlen)).toBe(hlen);
    }
  });
});
