// assembly/wire/virtio.ts: struct virtio_net_hdr (virtio 1.x spec 5.1.6,
// little-endian). scapy has no layer for it: the vectors' headers are
// struct-packed by make_vectors.py around scapy-built frames.
import { describe, it, expect } from 'vitest';
import { newKit, emitted, atEnd } from './kit.ts';
import { hex, toHex, refChecksum } from '../util.ts';
import { VNET_GSO_TCPV4, VNET_TCP_PARTIAL, VNET_TCP_COMPLETE, VNET_ICMP_PARTIAL, VNET_ICMP_PARTIAL_REPLY } from '../vectors/virtio.ts';

const k = newKit();
const f = k.fn;
const VNET_HLEN = 10;

/** 10-byte header from its fields (little-endian), to build variants. */
function hdr(flags: number, gso: number, hdrLen: number, gsoSize: number, start: number, off: number): Uint8Array {
  const b = new Uint8Array(VNET_HLEN);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, flags); dv.setUint8(1, gso);
  dv.setUint16(2, hdrLen, true); dv.setUint16(4, gsoSize, true);
  dv.setUint16(6, start, true); dv.setUint16(8, off, true);
  return b;
}

describe('virtio: parse', () => {
  it('GSO TCPV4 header: every field, little-endian', () => {
    const p = atEnd(k, hex(VNET_GSO_TCPV4.hex));
    const v = VNET_GSO_TCPV4.vnet;
    expect(f.vnetFlags(p)).toBe(v.flags);
    expect(f.vnetGsoType(p)).toBe(v.gsoType);
    expect(f.vnetHdrLen(p)).toBe(v.hdrLen);
    expect(f.vnetGsoSize(p)).toBe(v.gsoSize);
    expect(f.vnetCsumStart(p)).toBe(v.csumStart);
    expect(f.vnetCsumOffset(p)).toBe(v.csumOffset);
    expect(f.vnetCheck(p, 66 + 1448)).toBe(true);
  });
});

describe('virtio: emit into 0xa5-filled memory', () => {
  it('vnetEmit writes the 10 bytes struct.pack wrote', () => {
    const v = VNET_GSO_TCPV4.vnet;
    const got = emitted(k, VNET_HLEN, (p) => f.vnetEmit(p, v.flags, v.gsoType, v.hdrLen, v.gsoSize, v.csumStart, v.csumOffset));
    expect(toHex(got)).toBe(VNET_GSO_TCPV4.hex);
  });
  it('vnetClear zeroes all 10 bytes and nothing else', () => {
    expect(toHex(emitted(k, VNET_HLEN, (p) => f.vnetClear(p), hex(VNET_GSO_TCPV4.hex)))).toBe('00'.repeat(10));
  });
});

describe('virtio: vnetCheck', () => {
  it('accepts the GSO types Linux defines (with or without the ECN bit), refuses the rest', () => {
    const ok = [0, 1, 3, 4, 5, 0x81, 0x83, 0x84, 0x85];
    for (let t = 0; t < 256; t++) {
      const p = k.put(hdr(0, t, 54, 1448, 0, 0));
      expect(f.vnetCheck(p, 1514), `gso_type ${t}`).toBe(ok.includes(t));
    }
  });
  it('refuses GSO with gso_size 0', () => {
    expect(f.vnetCheck(k.put(hdr(0, 1, 54, 0, 0, 0)), 1514)).toBe(false);
    expect(f.vnetCheck(k.put(hdr(0, 0, 0, 0, 0, 0)), 1514)).toBe(true);
  });
  it('NEEDS_CSUM: the 2-byte checksum field must lie inside the frame', () => {
    for (let len = 0; len < 34 + 16 + 2; len++) {
      expect(f.vnetCheck(k.put(hdr(1, 0, 0, 0, 34, 16)), len), `frame ${len} bytes`).toBe(false);
    }
    expect(f.vnetCheck(k.put(hdr(1, 0, 0, 0, 34, 16)), 52)).toBe(true);
    // extreme offsets cannot wrap around
    expect(f.vnetCheck(k.put(hdr(1, 0, 0, 0, 0xffff, 0xffff)), 65535)).toBe(false);
    // without NEEDS_CSUM the offsets are not looked at
    expect(f.vnetCheck(k.put(hdr(0, 0, 0, 0, 0xffff, 0xffff)), 60)).toBe(true);
  });
  it('reads only the 10 header bytes (header at the very end of memory)', () => {
    expect(f.vnetCheck(atEnd(k, hex(VNET_GSO_TCPV4.hex)), 1514)).toBe(true);
  });
});

describe('virtio: completing a partial checksum (NEEDS_CSUM)', () => {
  it('TCP: the pseudo-header sum left by the sender becomes scapy\'s full checksum', () => {
    const all = hex(VNET_TCP_PARTIAL.hex);
    const h = k.put(all);
    const frame = h + VNET_HLEN;
    const len = all.length - VNET_HLEN;
    expect(f.be16(frame + 34 + 16)).toBe(VNET_TCP_PARTIAL.partial);
    f.vnetFinishChecksum(h, frame, len);
    expect(toHex(k.read(frame, len))).toBe(VNET_TCP_COMPLETE.hex);
    expect(f.vnetFlags(h) & 1).toBe(0); // NEEDS_CSUM cleared
    expect([f.vnetCsumStart(h), f.vnetCsumOffset(h)]).toEqual([34, 16]); // the rest left alone
  });

  it('ICMP (no pseudo-header): completed checksum verifies', () => {
    const all = hex(VNET_ICMP_PARTIAL.hex);
    const h = k.put(all);
    const frame = h + VNET_HLEN;
    const len = all.length - VNET_HLEN;
    f.vnetFinishChecksum(h, frame, len);
    const icmp = k.read(frame + 34, len - 34);
    expect(f.icmpChecksumOk(frame + 34, len - 34)).toBe(true);
    expect(refChecksum(icmp)).toBe(0);
    // and it is what the request's checksum must be for the reply vector's (type 8 -> 0 is +0x0800 in the sum)
    const s = f.icmpChecksum(frame + 34) + 0x0800; // one's-complement add, end-around carry
    expect((s & 0xffff) + (s >>> 16)).toBe(VNET_ICMP_PARTIAL_REPLY.icmp.chksum);
  });

  it('no NEEDS_CSUM flag: nothing is touched', () => {
    const all = hex(VNET_TCP_PARTIAL.hex);
    all[0] = 0;
    const h = k.put(all);
    f.vnetFinishChecksum(h, h + VNET_HLEN, all.length - VNET_HLEN);
    expect(toHex(k.read(h, all.length))).toBe(toHex(all));
  });
});
