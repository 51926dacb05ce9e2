// assembly/wire/vxlan.ts against VXLAN frames scapy built (test/vectors/vxlan.ts),
// and the outer UDP header as the Linux vxlan driver sends it (checksum 0).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd, POISON } from './kit.ts';
import { hex, ip, mac, toHex } from '../util.ts';
import { VXLAN_FLANNEL, VXLAN_IANA_VNI4096, VXLAN_NO_I_FLAG, VXLAN_SHORT_HEADER, VXLAN_CUT } from '../vectors/vxlan.ts';

const k = newKit();
const f = k.fn;
const OK = f.IPV4_OK();
const TRUNCATED = f.IPV4_TRUNCATED();

type IpFields = { len: number; id: number; flags: number; frag: number; ttl: number; proto: number; src: string; dst: string };
type V = {
  hex: string;
  eth: { dst: string; src: string; type: number };
  ip: IpFields;
  udp: { sport: number; dport: number; len: number; chksum: number };
  vxlan: { flags: number; reserved1: number; vni: number; reserved2: number };
  innerEth: { dst: string; src: string; type: number };
  innerIp: IpFields;
  offsets: { ip: number; udp: number; vxlan: number; inner: number };
};
const GOOD: [string, V][] = [['VXLAN_FLANNEL', VXLAN_FLANNEL], ['VXLAN_IANA_VNI4096', VXLAN_IANA_VNI4096]];
const ALL: [string, V][] = [...GOOD, ['VXLAN_NO_I_FLAG', VXLAN_NO_I_FLAG]];
/** The 8 VXLAN header bytes scapy wrote. */
const vxHdr = (v: V) => hex(v.hex).subarray(v.offsets.vxlan, v.offsets.inner);

describe('vxlan: constants against the scapy frames', () => {
  it('VXLAN_OVERHEAD is 50: the inner frame starts 50 bytes into the outer one', () => {
    for (const [name, v] of ALL) {
      const b = hex(v.hex);
      expect(f.VXLAN_OVERHEAD(), name).toBe(50);
      expect(f.VXLAN_OVERHEAD(), name).toBe(v.offsets.inner);
      expect(f.VXLAN_OVERHEAD(), name).toBe(b.length - (v.innerIp.len + 14));
      // and it is the sum of scapy's layer sizes: Ethernet + IPv4 + UDP + VXLAN
      expect(v.offsets.ip).toBe(14);
      expect(v.offsets.udp - v.offsets.ip).toBe(20);
      expect(v.offsets.vxlan - v.offsets.udp).toBe(8);
      expect(v.offsets.inner - v.offsets.vxlan).toBe(f.VXLAN_HLEN());
    }
  });

  it('VXLAN_HLEN, the I flag and the two ports are the values scapy wrote', () => {
    expect(f.VXLAN_HLEN()).toBe(8);
    expect(f.VXLAN_FLAG_I()).toBe(VXLAN_FLANNEL.vxlan.flags);
    expect(f.VXLAN_PORT_FLANNEL()).toBe(VXLAN_FLANNEL.udp.dport);
    expect(f.VXLAN_PORT_IANA()).toBe(VXLAN_IANA_VNI4096.udp.dport);
    expect([f.VXLAN_PORT_FLANNEL(), f.VXLAN_PORT_IANA()]).toEqual([8472, 4789]);
  });
});

describe('vxlan: parse scapy frames', () => {
  for (const [name, v] of GOOD) {
    it(`${name}: check OK, flags and VNI at the VXLAN offset; UDP says where it ends`, () => {
      const b = hex(v.hex);
      const base = atEnd(k, b);
      const u = base + v.offsets.udp;
      expect(f.udpCheck(u, b.length - v.offsets.udp)).toBe(true);
      expect(f.udpDstPort(u)).toBe(v.udp.dport);
      const p = base + v.offsets.vxlan;
      const len = f.udpLength(u) - 8;
      expect(len).toBe(b.length - v.offsets.vxlan);
      expect(f.vxlanCheck(p, len)).toBe(true);
      expect(f.vxlanFlags(p)).toBe(v.vxlan.flags);
      expect(f.vxlanVni(p)).toBe(v.vxlan.vni);
      // the inner frame begins right after: scapy's inner Ethernet and IPv4
      const q = base + v.offsets.inner;
      expect(q).toBe(p + f.VXLAN_HLEN());
      expect(f.ethDst(q)).toBe(mac(v.innerEth.dst));
      expect(f.ethSrc(q)).toBe(mac(v.innerEth.src));
      expect(f.ethType(q)).toBe(v.innerEth.type);
      expect(f.ipv4Check(q + 14, b.length - v.offsets.inner - 14)).toBe(OK);
      expect(f.ipv4Src(q + 14)).toBe(ip(v.innerIp.src));
      expect(f.ipv4Dst(q + 14)).toBe(ip(v.innerIp.dst));
    });

    it(`${name}: the 8 header bytes alone, ending at the end of memory, parse the same`, () => {
      const p = atEnd(k, vxHdr(v));
      expect(f.vxlanCheck(p, 8)).toBe(true);
      expect(f.vxlanFlags(p)).toBe(v.vxlan.flags);
      expect(f.vxlanVni(p)).toBe(v.vxlan.vni);
    });
  }

  it('VXLAN_NO_I_FLAG: refused (the VNI is not valid), though the fields still read as scapy reads them', () => {
    const v = VXLAN_NO_I_FLAG;
    const b = hex(v.hex);
    const p = atEnd(k, b) + v.offsets.vxlan;
    expect(v.vxlan.flags).toBe(0);
    expect(f.vxlanCheck(p, b.length - v.offsets.vxlan)).toBe(false);
    expect(f.vxlanFlags(p)).toBe(0);
    expect(f.vxlanVni(p)).toBe(v.vxlan.vni);
  });

  it('only the I bit decides: each other flag bit alone is refused, I plus reserved bits accepted (RFC 7348: ignored on receipt)', () => {
    const h = vxHdr(VXLAN_FLANNEL).slice();
    for (let bit = 0; bit < 8; bit++) {
      h[0] = 1 << bit;
      expect(f.vxlanCheck(atEnd(k, h), 8), `flags ${h[0].toString(16)}`).toBe(h[0] === 0x08);
    }
    h[0] = 0xff; h[1] = h[2] = h[3] = 0xff; h[7] = 0xff;
    const p = atEnd(k, h);
    expect(f.vxlanCheck(p, 8)).toBe(true);
    expect(f.vxlanFlags(p)).toBe(0xff);
    expect(f.vxlanVni(p)).toBe(VXLAN_FLANNEL.vxlan.vni); // the reserved byte after the VNI does not leak in
  });

  it('the VNI is 24 bits, read without sign or reserved-byte bleed', () => {
    const h = hex('08000000' + 'ffffff' + 'a5');
    expect(f.vxlanVni(atEnd(k, h))).toBe(0xffffff);
    h.set([0x80, 0x00, 0x00, 0xff], 4);
    expect(f.vxlanVni(atEnd(k, h))).toBe(0x800000);
    h.set([0x00, 0x10, 0x00, 0x7f], 4);
    expect(f.vxlanVni(atEnd(k, h))).toBe(4096);
  });
});

describe('vxlan: emit into 0xa5-filled memory', () => {
  for (const [name, v] of GOOD) {
    it(`vxlanEmit(${v.vxlan.vni}) writes exactly scapy's 8 bytes of ${name}, reserved bytes zero`, () => {
      const got = emitted(k, 8, (p) => f.vxlanEmit(p, v.vxlan.vni));
      expect(toHex(got)).toBe(toHex(vxHdr(v)));
      expect([got[1], got[2], got[3], got[7]]).toEqual([0, 0, 0, 0]);
      expect(v.vxlan.reserved1).toBe(0);
      expect(v.vxlan.reserved2).toBe(0);
    });
  }

  it('the VNI is masked to 24 bits: high bits never reach the flags or the reserved byte', () => {
    expect(toHex(emitted(k, 8, (p) => f.vxlanEmit(p, 0x01000001)))).toBe('0800000000000100');
    expect(toHex(emitted(k, 8, (p) => f.vxlanEmit(p, 0xff001000)))).toBe('0800000000100000');
    expect(toHex(emitted(k, 8, (p) => f.vxlanEmit(p, 0xffffffff)))).toBe('08000000ffffff00');
    expect(toHex(emitted(k, 8, (p) => f.vxlanEmit(p, 0x12345678)))).toBe('0800000034567800');
  });

  it('emit then parse round-trips every boundary VNI', () => {
    for (const vni of [0, 1, 0xff, 0x100, 4096, 0xffff, 0x10000, 0x7fffff, 0x800000, 0xfffffe, 0xffffff]) {
      const p = k.scratch;
      k.fill(p, 8, POISON);
      f.vxlanEmit(p, vni);
      expect(f.vxlanCheck(p, 8), `vni ${vni}`).toBe(true);
      expect(f.vxlanFlags(p)).toBe(0x08);
      expect(f.vxlanVni(p), `vni ${vni}`).toBe(vni);
    }
  });
});

describe('vxlan: truncated headers', () => {
  it('every prefix of the 8 header bytes is refused, without reading past it', () => {
    for (const [name, v] of GOOD) {
      const h = vxHdr(v);
      for (const { p, len } of prefixesAtEnd(k, h, h.length)) {
        expect(f.vxlanCheck(p, len), `${name}: ${len} bytes`).toBe(false);
      }
      expect(f.vxlanCheck(atEnd(k, h), h.length)).toBe(true);
    }
  });

  it('VXLAN_SHORT_HEADER: IPv4 and UDP are fine, the 7 VXLAN bytes they carry are refused', () => {
    const b = hex(VXLAN_SHORT_HEADER.hex);
    const base = atEnd(k, b);
    expect(f.ipv4Check(base + 14, b.length - 14)).toBe(OK);
    expect(f.udpCheck(base + 34, b.length - 34)).toBe(true);
    expect(f.udpLength(base + 34)).toBe(VXLAN_SHORT_HEADER.udp.len);
    const len = f.udpLength(base + 34) - 8;
    expect(len).toBe(7);
    expect(f.vxlanCheck(base + 42, len)).toBe(false);
  });

  it('VXLAN_CUT: the outer IPv4 header already says truncated, and the 7 VXLAN bytes are refused', () => {
    const b = hex(VXLAN_CUT.hex);
    const base = atEnd(k, b);
    expect(f.ipv4Check(base + 14, b.length - 14)).toBe(TRUNCATED);
    expect(f.udpCheck(base + 34, b.length - 34)).toBe(false);
    expect(f.vxlanCheck(base + 42, b.length - 42)).toBe(false);
    // it is VXLAN_FLANNEL's prefix, byte for byte
    expect(VXLAN_FLANNEL.hex.startsWith(VXLAN_CUT.hex)).toBe(true);
  });
});

describe('vxlan: the outer headers as Linux vxlan builds them', () => {
  for (const [name, v] of GOOD) {
    it(`${name}: udpEmit leaves the checksum 0 and matches scapy's outer UDP header`, () => {
      const b = hex(v.hex);
      const want = b.subarray(v.offsets.udp, v.offsets.vxlan);
      expect(v.udp.chksum).toBe(0);
      const got = emitted(k, 8, (p) => f.udpEmit(p, v.udp.sport, v.udp.dport, b.length - v.offsets.udp));
      expect(toHex(got)).toBe(toHex(want));
      expect(f.udpChecksum(atEnd(k, b.subarray(v.offsets.udp)))).toBe(0);
    });

    it(`${name}: ethEmit + ipv4Emit + udpEmit + vxlanEmit before the inner frame reproduce all ${hex(v.hex).length} bytes`, () => {
      const b = hex(v.hex);
      const inner = b.subarray(f.VXLAN_OVERHEAD());
      const pre = new Uint8Array(b.length).fill(POISON);
      pre.set(inner, f.VXLAN_OVERHEAD()); // the inner frame is already in place (encap prepends)
      const got = emitted(k, b.length, (p) => {
        f.ethEmit(p, mac(v.eth.dst), mac(v.eth.src), v.eth.type);
        f.ipv4Emit(p + 14, b.length - 14, v.ip.id, (v.ip.flags << 13) | v.ip.frag, v.ip.ttl, f.IPPROTO_UDP(),
          ip(v.ip.src), ip(v.ip.dst));
        f.udpEmit(p + 34, v.udp.sport, v.udp.dport, b.length - 34);
        f.vxlanEmit(p + 42, v.vxlan.vni);
      }, pre);
      expect(toHex(got)).toBe(toHex(b));
      expect(v.ip.flags).toBe(0); // DF clear, as vxlan sends by default
      expect(v.ip.ttl).toBe(64);
    });
  }
});
