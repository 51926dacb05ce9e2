// assembly/wire/arp.ts against ARP packets scapy built (test/vectors/arp.ts).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd } from './kit.ts';
import { hex, ip, mac, toHex } from '../util.ts';
import { ARP_REQUEST_FOR_GW, ARP_REPLY_FROM_GW, ARP_REQUEST_FOR_POD_B, ARP_REQUEST_PADDED, ARP_TRUNCATED } from '../vectors/arp.ts';

const k = newKit();
const f = k.fn;
const ARP_LEN = 28;
const ALL = [ARP_REQUEST_FOR_GW, ARP_REPLY_FROM_GW, ARP_REQUEST_FOR_POD_B, ARP_REQUEST_PADDED];

describe('arp: parse scapy packets', () => {
  for (const v of ALL) {
    it(`${v.arp.op === 1 ? 'request' : 'reply'} ${v.arp.psrc} -> ${v.arp.pdst} (${hex(v.hex).length} bytes)`, () => {
      const body = hex(v.hex).subarray(14);
      const p = atEnd(k, body);
      expect(f.arpCheck(p, body.length)).toBe(true);
      expect(v.arp.hwtype).toBe(1);
      expect(v.arp.ptype).toBe(0x0800);
      expect(f.arpOp(p)).toBe(v.arp.op);
      expect(f.arpSha(p)).toBe(mac(v.arp.hwsrc));
      expect(f.arpSpa(p)).toBe(ip(v.arp.psrc));
      expect(f.arpTha(p)).toBe(mac(v.arp.hwdst));
      expect(f.arpTpa(p)).toBe(ip(v.arp.pdst));
    });
  }

  it('refuses ARP that is not Ethernet/IPv4: each of htype, ptype, hlen, plen', () => {
    const good = hex(ARP_REQUEST_FOR_GW.hex).subarray(14);
    const cases: [string, number, number][] = [
      ['htype 6 (IEEE 802)', 1, 6], ['ptype 0x86dd', 2, 0x86], ['hlen 8', 4, 8], ['plen 16', 5, 16], ['htype high byte', 0, 1],
    ];
    for (const [what, off, val] of cases) {
      const b = good.slice();
      b[off] = val;
      expect(f.arpCheck(k.put(b), ARP_LEN), what).toBe(false);
    }
    expect(f.arpCheck(k.put(good), ARP_LEN)).toBe(true);
  });
});

describe('arp: emit into 0xa5-filled memory', () => {
  for (const v of [ARP_REPLY_FROM_GW, ARP_REQUEST_FOR_GW]) {
    it(`arpEmit reproduces scapy's op ${v.arp.op} body byte for byte`, () => {
      const a = v.arp;
      const got = emitted(k, ARP_LEN, (p) => f.arpEmit(p, a.op, mac(a.hwsrc), ip(a.psrc), mac(a.hwdst), ip(a.pdst)));
      expect(toHex(got)).toBe(toHex(hex(v.hex).subarray(14, 14 + ARP_LEN)));
    });
  }

  it('arpEmit over the request in place turns it into the reply scapy built', () => {
    const req = hex(ARP_REQUEST_FOR_GW.hex).subarray(14);
    const r = ARP_REPLY_FROM_GW.arp;
    const got = emitted(k, ARP_LEN, (p) => f.arpEmit(p, 2, mac(r.hwsrc), ip(r.psrc), f.arpSha(p), f.arpSpa(p)), req);
    expect(toHex(got)).toBe(toHex(hex(ARP_REPLY_FROM_GW.hex).subarray(14)));
  });
});

describe('arp: truncated packets', () => {
  it('scapy\'s 27-byte ARP body is refused', () => {
    const body = hex(ARP_TRUNCATED.hex).subarray(14);
    expect(body.length).toBe(27);
    expect(f.arpCheck(atEnd(k, body), body.length)).toBe(false);
  });

  it('every prefix shorter than 28 bytes is refused, without reading past it', () => {
    for (const v of ALL) {
      for (const { p, len } of prefixesAtEnd(k, hex(v.hex).subarray(14), ARP_LEN)) {
        expect(f.arpCheck(p, len), `${len} bytes`).toBe(false);
      }
    }
  });

  it('exactly 28 bytes at the end of memory are enough', () => {
    const body = hex(ARP_REPLY_FROM_GW.hex).subarray(14);
    expect(f.arpCheck(atEnd(k, body), ARP_LEN)).toBe(true);
  });
});
