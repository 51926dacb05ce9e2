// IP-in-IP (protocol 4) through assembly/wire/ipv4.ts, against the frames
// scapy built (test/vectors/ipip.ts): the outer header parses and is emitted
// byte for byte, and the inner header starts where the outer one ends.
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd, POISON } from './kit.ts';
import { hex, ip, toHex } from '../util.ts';
import { IPIP_TCP_SYN, IPIP_CUT_OUTER, IPIP_SHORT_INNER } from '../vectors/ipip.ts';

const k = newKit();
const f = k.fn;
const OK = f.IPV4_OK();
const TRUNCATED = f.IPV4_TRUNCATED();
const V = IPIP_TCP_SYN;
/** The outer IPv4 packet (from the end of the Ethernet header). */
const outer = () => hex(V.hex).subarray(V.offsets.ip);

describe('ipip: parse the scapy frame', () => {
  it('the outer header checks OK with protocol 4 and every field as scapy reads it', () => {
    const b = outer();
    const p = atEnd(k, b);
    const x = V.ip;
    expect(f.ipv4Check(p, b.length)).toBe(OK);
    expect(f.ipv4Proto(p)).toBe(4);
    expect(f.ipv4Proto(p)).toBe(f.IPPROTO_IPIP());
    expect(f.ipv4Proto(p)).toBe(x.proto);
    expect(f.ipv4Version(p)).toBe(x.version);
    expect(f.ipv4HeaderLen(p)).toBe(x.ihl * 4);
    expect(f.ipv4TotalLen(p)).toBe(x.len);
    expect(f.ipv4Ident(p)).toBe(x.id);
    expect(f.ipv4FlagsFrag(p)).toBe((x.flags << 13) | x.frag);
    expect(f.ipv4Ttl(p)).toBe(x.ttl);
    expect(f.ipv4Checksum(p)).toBe(x.chksum);
    expect(f.ipv4Src(p)).toBe(ip(x.src));
    expect(f.ipv4Dst(p)).toBe(ip(x.dst));
  });

  it('the inner header starts at outer IHL*4 and checks OK in the bytes the outer total length leaves', () => {
    const b = outer();
    const p = atEnd(k, b);
    const hlen = f.ipv4HeaderLen(p);
    expect(hlen).toBe(V.offsets.inner - V.offsets.ip);
    const q = p + hlen;
    const len = f.ipv4TotalLen(p) - hlen;
    expect(len).toBe(V.innerIp.len);
    expect(f.ipv4Check(q, len)).toBe(OK);
    const x = V.innerIp;
    expect(f.ipv4Proto(q)).toBe(x.proto);
    expect(f.ipv4Ttl(q)).toBe(x.ttl);
    expect(f.ipv4Ident(q)).toBe(x.id);
    expect(f.ipv4FlagsFrag(q)).toBe((x.flags << 13) | x.frag);
    expect(f.ipv4Checksum(q)).toBe(x.chksum);
    expect(f.ipv4Src(q)).toBe(ip(x.src));
    expect(f.ipv4Dst(q)).toBe(ip(x.dst));
    // and the TCP SYN after the inner header is scapy's
    const t = q + f.ipv4HeaderLen(q);
    expect(t - p + V.offsets.ip).toBe(V.offsets.tcp);
    expect(f.tcpHeaderLen(t, len - f.ipv4HeaderLen(q))).toBe(V.tcp.dataofs * 4);
    expect(f.tcpSrcPort(t)).toBe(V.tcp.sport);
    expect(f.tcpDstPort(t)).toBe(V.tcp.dport);
    expect(f.tcpFlags(t) & 0x3f).toBe(V.tcp.flags);
  });

  it('tunl0 behaviour the vector encodes: outer TTL and DF are the inner ones', () => {
    expect(V.ip.ttl).toBe(V.innerIp.ttl);
    expect(V.ip.flags).toBe(V.innerIp.flags);
    expect(V.ip.len).toBe(V.innerIp.len + 20);
  });
});

describe('ipip: emit the outer header into 0xa5-filled memory', () => {
  it("ipv4Emit(proto 4) writes scapy's 20 bytes exactly, checksum included", () => {
    const want = outer().subarray(0, 20);
    const x = V.ip;
    const got = emitted(k, 20, (p) =>
      f.ipv4Emit(p, x.len, x.id, (x.flags << 13) | x.frag, x.ttl, f.IPPROTO_IPIP(), ip(x.src), ip(x.dst)));
    expect(toHex(got)).toBe(toHex(want));
    expect((got[10] << 8) | got[11]).toBe(x.chksum);
  });

  it('prepended to the inner packet already in place, it reproduces the whole outer packet', () => {
    const b = outer();
    const x = V.ip;
    const pre = new Uint8Array(b.length).fill(POISON);
    pre.set(b.subarray(20), 20);
    const got = emitted(k, b.length, (p) =>
      f.ipv4Emit(p, b.length, x.id, (x.flags << 13) | x.frag, x.ttl, 4, ip(x.src), ip(x.dst)), pre);
    expect(toHex(got)).toBe(toHex(b));
    expect(f.ipv4Check(atEnd(k, got), got.length)).toBe(OK);
  });
});

describe('ipip: truncated frames', () => {
  it('every prefix of the outer packet is TRUNCATED, without reading past it', () => {
    const b = outer();
    for (const { p, len } of prefixesAtEnd(k, b, b.length)) {
      expect(f.ipv4Check(p, len), `${len} bytes`).toBe(TRUNCATED);
    }
  });

  it('IPIP_CUT_OUTER: 19 bytes of outer header are TRUNCATED', () => {
    const b = hex(IPIP_CUT_OUTER.hex).subarray(14);
    expect(b.length).toBe(19);
    expect(f.ipv4Check(atEnd(k, b), b.length)).toBe(TRUNCATED);
    expect(V.hex.startsWith(IPIP_CUT_OUTER.hex)).toBe(true);
  });

  it('IPIP_SHORT_INNER: the outer header is fine, the 12-byte inner header it carries is TRUNCATED', () => {
    const b = hex(IPIP_SHORT_INNER.hex).subarray(14);
    const p = atEnd(k, b);
    expect(f.ipv4Check(p, b.length)).toBe(OK);
    expect(f.ipv4Proto(p)).toBe(IPIP_SHORT_INNER.ip.proto);
    expect(f.ipv4Proto(p)).toBe(f.IPPROTO_IPIP());
    const hlen = f.ipv4HeaderLen(p);
    const len = f.ipv4TotalLen(p) - hlen;
    expect(len).toBe(12);
    expect(f.ipv4Check(p + hlen, len)).toBe(TRUNCATED);
  });
});
