// Software GSO (assembly/stages/gso.ts) through the release build: with
// setUnderlayNoGso(true), a TCP super-frame node 1's pod sends to node 2's pod
// leaves node 1 as MSS-sized segments, each encapsulated on its own, each a
// complete packet (zero vnet header, complete checksums), as the kernel's
// software GSO would make them (inet_gso_segment / tcp_gso_segment); node 2
// delivers each to its pod. Checksums are verified with the independent JS
// reference (test/util.ts refChecksum), not the data plane's own code.
import { describe, it, expect } from 'vitest';
import { GEN_SLOT, GSO_MAX_PAYLOAD, gsoMaxSegments, podGsoSize, genSlotsForSegmentation, type Dataplane } from '../../src/dataplane/dataplane.ts';
import { refChecksum, prng } from '../util.ts';
import { vnet } from './frames.ts';
import {
  N1, N2, POD, UL, TUNNEL_MTU, INNER_IP, twoNodes, runNode, handOver, podFrame, udp, pattern, pseudo, macAt, ipAt4, rd16, rd32,
  vnetFields, tcpSuper, TCP_TS_HLEN as THL, type Kind, type Sent, type NodeResult,
} from './overlay-kit.ts';

const KINDS: Kind[] = ['vxlan', 'ipip', 'host-gw'];
const TCP_FIN = 0x01, TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_ECE = 0x40, TCP_CWR = 0x80;
const GSO_TCPV4 = 1, GSO_UDP = 3, GSO_TCPV6 = 4, GSO_UDP_L4 = 5, GSO_ECN = 0x80;

/** Node 1's pod's super-frame to node 2's pod, and the vnet header Linux would give it. */
function superFrame(o: { payload: Uint8Array; mss: number; df?: boolean; id?: number; flags?: number; gsoType?: number; ttl?: number }) {
  const tcp = tcpSuper({ payload: o.payload, flags: o.flags });
  const frame = podFrame(N1, { dst: N2.pod, proto: 6, df: o.df ?? true, id: o.id ?? 0xfff0, ttl: o.ttl, payload: tcp });
  const v = vnet({ flags: 1, gsoType: o.gsoType ?? GSO_TCPV4, hdrLen: 14 + 20 + THL, gsoSize: o.mss, csumStart: 34, csumOffset: 16 });
  return { frame, vnet: v, tcp };
}

/** The largest super-frame: 64 KiB of IPv4. */
const MAX_PAYLOAD = 65535 - 20 - THL;
/** Each kind's pod MTU is its tunnel MTU (overlay-kit): Linux's gso_size there. */
const mssOf = (kind: Kind) => podGsoSize(TUNNEL_MTU[kind]);

/** Check the outer headers of one underlay frame node 1 sent to node 2; returns the inner IPv4 packet. */
function outerOk(kind: Kind, f: Uint8Array) {
  expect(macAt(f, 0), 'outer eth dst').toBe(N2.ulMac);
  expect(macAt(f, 6), 'outer eth src').toBe(N1.ulMac);
  expect(rd16(f, 12)).toBe(0x0800);
  if (kind !== 'host-gw') {
    const o = ipAt4(f, 14);
    expect(o.headerOk, 'outer IPv4 checksum').toBe(true);
    expect(o.total, 'outer IPv4 length: exact, a segment never saturates it').toBe(f.length - 14);
    // outer TTL: VXLAN's default 64; IP-in-IP inherits the inner TTL (tunl0's ttl 0, ip_tunnel_xmit)
    expect([o.src, o.dst, o.proto, o.ttl]).toEqual([N1.ul, N2.ul, kind === 'vxlan' ? 17 : 4, kind === 'vxlan' ? 64 : ipAt4(f, 34).ttl]);
    expect(o.total, 'outer packet within the underlay MTU').toBeLessThanOrEqual(1500);
    if (kind === 'ipip') expect(o.df, 'outer DF inherited').toBe(ipAt4(f, 34).df);
  }
  if (kind === 'vxlan') {
    expect(rd16(f, 36), 'UDP dport').toBe(8472);
    expect(rd16(f, 38), 'UDP length').toBe(f.length - 34);
    expect(rd16(f, 40), 'UDP checksum 0').toBe(0);
    expect(f[42]).toBe(0x08);
    expect(rd32(f, 46) >>> 8, 'VNI').toBe(1);
    expect(macAt(f, 50)).toBe(N2.vtep);
    expect(macAt(f, 56)).toBe(N1.vtep);
    expect(rd16(f, 62)).toBe(0x0800);
  }
  const inner = ipAt4(f, INNER_IP[kind]);
  expect(inner.at + inner.total, 'nothing after the inner packet').toBe(f.length);
  return inner;
}

/** RFC 1071 over pseudo-header + segment, independently of the data plane: 0 when the TCP checksum is right. */
const tcpChecksumOk = (ip: ReturnType<typeof ipAt4>) =>
  refChecksum(Buffer.concat([pseudo(ip.src, ip.dst, 6, ip.payload.length), ip.payload])) === 0;

interface Seg { ip: ReturnType<typeof ipAt4>; tcp: Uint8Array; data: Uint8Array; seq: number; flags: number }
const segOf = (ip: ReturnType<typeof ipAt4>): Seg => {
  const tcp = ip.payload;
  const thl = (tcp[12] >> 4) * 4;
  return { ip, tcp, data: tcp.subarray(thl), seq: rd32(tcp, 4), flags: tcp[13] };
};

/**
 * Everything a correct segmentation of `sent` (its TCP segment `tcp`) into
 * `segs` (inner IPv4 packets, in order) must satisfy; `ttl` as they arrive.
 */
function expectSegmentation(segs: ReturnType<typeof ipAt4>[], sent: { frame: Uint8Array; tcp: Uint8Array }, o: { mss: number; mtu: number; ttl: number }) {
  const orig = ipAt4(sent.frame, 14);
  const payload = sent.tcp.subarray(THL);
  expect(segs).toHaveLength(Math.max(1, Math.ceil(payload.length / o.mss)));
  const seq0 = rd32(sent.tcp, 4);
  const flags0 = sent.tcp[13];
  let off = 0;
  segs.forEach((ip, i) => {
    const s = segOf(ip);
    const last = i === segs.length - 1;
    const what = `segment ${i}/${segs.length}`;
    expect(ip.headerOk, `${what}: IPv4 header checksum`).toBe(true);
    expect(ip.total, `${what}: within the tunnel MTU`).toBeLessThanOrEqual(o.mtu);
    expect(ip.id, `${what}: IP id (incremented per segment, 16-bit wrap)`).toBe((orig.id + i) & 0xffff);
    expect([ip.src, ip.dst, ip.proto, ip.ttl, ip.df, ip.mf, ip.offset]).toEqual([orig.src, orig.dst, 6, o.ttl, orig.df, false, 0]);
    expect(tcpChecksumOk(ip), `${what}: TCP checksum complete and right`).toBe(true);
    expect(s.seq, `${what}: sequence number`).toBe((seq0 + off) >>> 0);
    if (!last) expect(s.data.length, `${what}: full segment`).toBe(o.mss);
    // FIN and PSH on the last segment only, CWR on the first only; everything else as sent
    let want = flags0;
    if (!last) want &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) want &= ~TCP_CWR;
    expect(s.flags, `${what}: flags`).toBe(want);
    // the rest of the TCP header (ports, ack, window, options) copied
    const a = Uint8Array.from(s.tcp.subarray(0, THL)); const b = Uint8Array.from(sent.tcp.subarray(0, THL));
    for (const x of [a, b]) { x.fill(0, 4, 8); x[13] = 0; x[16] = x[17] = 0; }
    expect(Buffer.from(a).equals(Buffer.from(b)), `${what}: TCP header otherwise as sent`).toBe(true);
    off += s.data.length;
  });
  expect(off).toBe(payload.length);
  const joined = Buffer.concat(segs.map((ip) => segOf(ip).data));
  expect(joined.equals(Buffer.from(payload)), 'segments concatenated = the super-frame payload').toBe(true);
}

/** Node 1 segments `sent`; returns its tx (all underlay) and counters. */
function segment(n1: Dataplane, sent: { frame: Uint8Array; vnet: Uint8Array }): NodeResult {
  const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
  expect(r.drops, 'node 1 drops').toEqual({});
  for (const t of r.tx) {
    expect(t.port).toBe(UL);
    expect(t.slot).toBe(GEN_SLOT);
    expect(Array.from(t.vnet), 'vnet header all zero: a complete frame').toEqual(new Array(10).fill(0));
  }
  return r;
}

/** Hand each underlay frame to node 2; returns the inner IPv4 packets node 2 delivered to its pod. */
function deliver(n2: Dataplane, tx: Sent[]) {
  return tx.map((t, i) => {
    const r2 = handOver(n2, t);
    expect(r2.drops, `node 2 drops, frame ${i}`).toEqual({});
    expect(r2.tx).toHaveLength(1);
    const d = r2.tx[0];
    expect(d.port).toBe(POD);
    expect(macAt(d.frame, 0)).toBe(N2.podMac);
    expect(macAt(d.frame, 6)).toBe(N2.gwMac);
    expect(Array.from(d.vnet), 'delivered: vnet header all zero').toEqual(new Array(10).fill(0));
    return ipAt4(d.frame, 14);
  });
}

describe('sizing helpers (src/dataplane/dataplane.ts)', () => {
  it('64 KiB at gso_size 1398 (pod MTU 1450): 47 segments per super-frame', () => {
    expect(GSO_MAX_PAYLOAD).toBe(65495);
    expect(podGsoSize(1450)).toBe(1398);
    expect(gsoMaxSegments(1398)).toBe(47);
    expect(genSlotsForSegmentation(16, 1450)).toBe(16 * 47 + 256);
  });
});

describe.each(KINDS)('%s, underlay without GSO: a 64 KiB TCP super-frame from node 1\'s pod', (kind) => {
  const mss = mssOf(kind);
  const mtu = TUNNEL_MTU[kind];

  for (const variant of ['ACK PSH', 'ACK PSH FIN ECE CWR, gso_type TCPV4|ECN'] as const) {
    it(`${variant}: ceil(payload / ${mss}) segments, each encapsulated, complete and in order; node 2 delivers each intact`, () => {
      const [n1, n2] = twoNodes(kind);
      n1.setUnderlayNoGso(true);
      const ecn = variant !== 'ACK PSH';
      const sent = superFrame({
        payload: pattern(MAX_PAYLOAD, 11), mss,
        flags: ecn ? TCP_ACK | TCP_PSH | TCP_FIN | TCP_ECE | TCP_CWR : TCP_ACK | TCP_PSH,
        gsoType: ecn ? GSO_TCPV4 | GSO_ECN : GSO_TCPV4,
      });
      expect(sent.frame.length - 14).toBe(65535);
      const r = segment(n1, sent);
      const n = Math.ceil(MAX_PAYLOAD / mss);
      if (kind === 'vxlan') expect(n).toBe(47);
      expect(r.tx).toHaveLength(n);
      expect(r.events).toMatchObject({
        gso_frames: 1, routed: 1, gso_segmented: n,
        ...(kind === 'vxlan' ? { vxlan_encap: n } : kind === 'ipip' ? { ipip_encap: n } : { host_gw_out: n }),
      });
      expect(r.ports[UL]).toMatchObject({ tx_packets: n });
      const inner = r.tx.map((t) => outerOk(kind, t.frame));
      expectSegmentation(inner, sent, { mss, mtu, ttl: 63 });
      // the biggest segments fill the tunnel MTU exactly: nothing wasted, nothing over
      expect(inner[0].total).toBe(mtu);
      if (kind === 'vxlan') expect(new Set(r.tx.map((t) => rd16(t.frame, 34))).size, 'one flow, one outer source port').toBe(1);

      const delivered = deliver(n2, r.tx);
      expectSegmentation(delivered, sent, { mss, mtu, ttl: 62 });
    });
  }

  it('off (the default): the super-frame crosses whole, vnet header kept; on then off again: whole again', () => {
    const [n1] = twoNodes(kind);
    const sent = superFrame({ payload: pattern(20000, 1), mss });
    for (const step of ['default', 'on', 'off'] as const) {
      if (step !== 'default') n1.setUnderlayNoGso(step === 'on');
      const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
      expect(r.drops).toEqual({});
      if (step === 'on') { expect(r.tx.length).toBe(Math.ceil(20000 / mss)); continue; }
      expect(r.tx).toHaveLength(1);
      expect(r.events.gso_segmented).toBeUndefined();
      expect(vnetFields(r.tx[0].vnet)).toMatchObject({ flags: 1, gsoType: 1, gsoSize: mss });
    }
  });

  it('a partial checksum on a plain (non-GSO) packet is finished before encapsulation; off: left partial', () => {
    const data = pattern(1000, 4);
    const sent = superFrame({ payload: data, mss });
    const plain = vnet({ flags: 1, csumStart: 34, csumOffset: 16 });
    const [n1] = twoNodes(kind);
    n1.setUnderlayNoGso(true);
    const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: plain }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].slot, 'in place: no copy for a plain packet').toBe(0);
    expect(Array.from(r.tx[0].vnet)).toEqual(new Array(10).fill(0));
    const ip = outerOk(kind, r.tx[0].frame);
    expect(tcpChecksumOk(ip)).toBe(true);
    expect(Buffer.from(segOf(ip).data).equals(Buffer.from(data))).toBe(true);

    const [m1] = twoNodes(kind);
    const r2 = runNode(m1, [{ port: POD, frame: sent.frame, vnet: plain }]);
    const shift = kind === 'vxlan' ? 50 : kind === 'ipip' ? 20 : 0;
    expect(vnetFields(r2.tx[0].vnet)).toMatchObject({ flags: 1, csumStart: 34 + shift, csumOffset: 16 });
    expect(tcpChecksumOk(outerOk(kind, r2.tx[0].frame)), 'still partial').toBe(false);
  });
});

describe('software GSO: edges (VXLAN)', () => {
  const kind: Kind = 'vxlan';
  const mss = mssOf(kind);
  const seg = (o: Parameters<typeof twoNodes>[1] = {}) => {
    const [n1, n2] = twoNodes(kind, o);
    n1.setUnderlayNoGso(true);
    return { n1, n2 };
  };

  it('payload no larger than gso_size: one segment, checksum completed (the kernel does not even call that GSO)', () => {
    for (const len of [mss, 1, 0]) {
      const { n1, n2 } = seg();
      const sent = superFrame({ payload: pattern(len, 2), mss });
      const r = segment(n1, sent);
      expect(r.tx, `payload ${len}`).toHaveLength(1);
      expect(r.events.gso_segmented).toBe(1);
      const inner = [outerOk(kind, r.tx[0].frame)];
      expectSegmentation(inner, sent, { mss, mtu: 1450, ttl: 63 });
      expect(segOf(inner[0]).flags, 'PSH kept: the only segment is the last').toBe(TCP_ACK | TCP_PSH);
      expectSegmentation(deliver(n2, r.tx), sent, { mss, mtu: 1450, ttl: 62 });
    }
  });

  it('odd gso_size and an odd last segment: checksums still right (RFC 1071 odd-byte padding)', () => {
    const { n1, n2 } = seg();
    const sent = superFrame({ payload: pattern(10001, 3), mss: 999 });
    const r = segment(n1, sent);
    expect(r.tx).toHaveLength(11);
    expectSegmentation(r.tx.map((t) => outerOk(kind, t.frame)), sent, { mss: 999, mtu: 1450, ttl: 63 });
    expectSegmentation(deliver(n2, r.tx), sent, { mss: 999, mtu: 1450, ttl: 62 });
  });

  it('802.1Q priority-tagged (VID 0) super-frame: the tag goes (routed), the segments are untagged and right', () => {
    const { n1 } = seg();
    const sent = superFrame({ payload: pattern(5000, 6), mss });
    const tagged = Uint8Array.from([...sent.frame.subarray(0, 12), 0x81, 0x00, 0xa0, 0x00, ...sent.frame.subarray(12)]);
    const v = vnet({ flags: 1, gsoType: GSO_TCPV4, hdrLen: 18 + 20 + THL, gsoSize: mss, csumStart: 38, csumOffset: 16 });
    const r = segment(n1, { frame: tagged, vnet: v });
    expect(r.tx).toHaveLength(Math.ceil(5000 / mss));
    expectSegmentation(r.tx.map((t) => outerOk(kind, t.frame)), sent, { mss, mtu: 1450, ttl: 63 });
  });

  it('all or none: a pool one slot short of the segments sends none (gen_pool_empty); exactly enough sends all', () => {
    const n = gsoMaxSegments(mss);
    for (const [genSlots, ok] of [[n - 1, false], [n, true]] as const) {
      const { n1 } = seg({ genSlots });
      const sent = superFrame({ payload: pattern(MAX_PAYLOAD, 1), mss });
      const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
      if (ok) {
        expect(r.drops).toEqual({});
        expect(r.tx).toHaveLength(n);
      } else {
        expect(r.drops).toEqual({ gen_pool_empty: 1 });
        expect(r.tx).toEqual([]);
        expect(r.events.gso_segmented).toBeUndefined();
      }
    }
  });

  it('two super-frames in one batch share the round\'s pool: the second finds it used up', () => {
    const n = gsoMaxSegments(mss);
    const { n1 } = seg({ genSlots: n + 5 });
    const sent = superFrame({ payload: pattern(MAX_PAYLOAD, 1), mss });
    const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }, { port: POD, frame: sent.frame, vnet: sent.vnet }]);
    expect(r.tx).toHaveLength(n);
    expect(r.drops).toEqual({ gen_pool_empty: 1 });
  });

  it('segments that would not fit a generated slot: gso_segment_oversize', () => {
    const { n1 } = seg({ genSlotSize: 1024 }); // holds frames of 1024 - 130 = 894 bytes
    const sent = superFrame({ payload: pattern(4000, 1), mss: 1000 });
    const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
    expect(r.drops).toEqual({ gso_segment_oversize: 1 });
    expect(r.tx).toEqual([]);
    // 800-byte segments fit
    const ok = runNode(n1, [{ port: POD, frame: sent.frame, vnet: vnet({ ...vnetFields(sent.vnet), gsoSize: 800 }) }]);
    expect(ok.drops).toEqual({});
    expect(ok.tx).toHaveLength(5);
  });

  it('segments bigger than the tunnel MTU, DF: ICMP fragmentation needed (MTU 1450) back to the pod, quoting the packet before its TTL changed', () => {
    const { n1 } = seg();
    const sent = superFrame({ payload: pattern(20000, 1), mss: 1448 }); // 20 + 32 + 1448 = 1500 > 1450
    const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
    expect(r.drops).toEqual({ frag_needed: 1 });
    expect(r.tx).toHaveLength(1);
    const e = r.tx[0];
    expect(e.port).toBe(POD);
    const ip = ipAt4(e.frame, 14);
    expect([ip.src, ip.dst, ip.proto]).toEqual([N1.gw, N1.pod, 1]);
    const m = ip.payload;
    expect([m[0], m[1]]).toEqual([3, 4]);
    expect(rd16(m, 6), 'next-hop MTU').toBe(1450);
    expect(refChecksum(m)).toBe(0);
    expect(ipAt4(m, 8).ttl, 'quoted TTL: as received').toBe(64);
    // whole, it would have crossed (no segmentation, no MTU check on super-frames)
    const [w1] = twoNodes(kind);
    expect(runNode(w1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]).tx[0].port).toBe(UL);
  });

  it('segments bigger than the tunnel MTU, no DF: each segment fragmented (ip_finish_output_gso), reassembling to the segments', () => {
    const { n1 } = seg();
    const payload = pattern(5000, 8);
    const sent = superFrame({ payload, mss: 1448, df: false });
    const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
    expect(r.drops).toEqual({});
    const nseg = Math.ceil(5000 / 1448); // 4: three of 1500 bytes of IPv4, one of 708
    const frags = r.tx.map((t) => outerOk(kind, t.frame));
    for (const f of frags) {
      expect(f.total).toBeLessThanOrEqual(1450);
      expect(f.headerOk).toBe(true);
    }
    expect(r.events).toMatchObject({ gso_segmented: nseg, fragments_sent: 6 });
    expect(frags).toHaveLength(3 * 2 + 1);
    // reassemble per IP id, then each is a right segment
    const byId = new Map<number, ReturnType<typeof ipAt4>[]>();
    for (const f of frags) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
    expect(byId.size).toBe(nseg);
    const segs = [...byId.values()].map((fs) => {
      const body = Buffer.concat(fs.sort((a, b) => a.offset - b.offset).map((f) => f.payload));
      const h = Uint8Array.from(fs[0].bytes.subarray(0, 20));
      h[2] = (20 + body.length) >> 8; h[3] = (20 + body.length) & 0xff; h[6] = h[7] = 0; h[10] = h[11] = 0;
      const c = refChecksum(h); h[10] = c >> 8; h[11] = c & 0xff;
      return ipAt4(Uint8Array.from([...h, ...body]), 0);
    });
    expectSegmentation(segs, sent, { mss: 1448, mtu: 1500, ttl: 63 });
  });

  it('no neighbour for the next hop: one no_neighbor drop for the super-frame, not one per segment', () => {
    const { n1 } = seg();
    n1.delNeighbor(N2.ul);
    const sent = superFrame({ payload: pattern(20000, 1), mss });
    const r = runNode(n1, [{ port: POD, frame: sent.frame, vnet: sent.vnet }]);
    expect(r.drops).toEqual({ no_neighbor: 1 });
    expect(r.tx).toEqual([]);
  });

  it('to a pod of node 1 itself (a local route): super-frames stay whole even with the switch on', () => {
    const { n1 } = seg();
    n1.attachPort(1, 1450);
    n1.setNeighbor('10.244.0.3', '0a:58:0a:f4:00:03');
    n1.addStaticMac('0a:58:0a:f4:00:03', 1);
    const tcp = tcpSuper({ payload: pattern(20000, 1), dst: '10.244.0.3' });
    const frame = podFrame(N1, { dst: '10.244.0.3', proto: 6, df: true, payload: tcp });
    const v = vnet({ flags: 1, gsoType: GSO_TCPV4, hdrLen: 66, gsoSize: mss, csumStart: 34, csumOffset: 16 });
    const r = runNode(n1, [{ port: POD, frame, vnet: v }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(1);
    expect(vnetFields(r.tx[0].vnet)).toMatchObject({ gsoType: 1, gsoSize: mss });
  });

  it('UDP (UFO), TCPv6 and UDP_L4 super-frames: gso_unsupported with the switch on; whole with it off', () => {
    const data = pattern(6000, 5);
    const dgram = podFrame(N1, { dst: N2.pod, proto: 17, df: false, payload: udp(N1.pod, N2.pod, 5000, 5001, data) });
    for (const gsoType of [GSO_UDP, GSO_TCPV6, GSO_UDP_L4, GSO_UDP | GSO_ECN]) {
      const v = vnet({ flags: 1, gsoType, hdrLen: 42, gsoSize: 1400, csumStart: 34, csumOffset: 6 });
      const { n1 } = seg();
      const r = runNode(n1, [{ port: POD, frame: dgram, vnet: v }]);
      expect(r.drops, `gso_type ${gsoType}`).toEqual({ gso_unsupported: 1 });
      expect(r.tx).toEqual([]);
      const [w1] = twoNodes(kind);
      const w = runNode(w1, [{ port: POD, frame: dgram, vnet: v }]);
      expect(w.drops).toEqual({});
      expect(w.tx).toHaveLength(1);
    }
  });

  it('gso_type TCPV4 on a packet that is not TCP, or whose TCP header runs past it: gso_malformed', () => {
    const dgram = podFrame(N1, { dst: N2.pod, proto: 17, df: true, payload: udp(N1.pod, N2.pod, 5000, 5001, pattern(3000)) });
    const v = vnet({ flags: 1, gsoType: GSO_TCPV4, hdrLen: 42, gsoSize: 1400, csumStart: 34, csumOffset: 6 });
    const { n1 } = seg();
    expect(runNode(n1, [{ port: POD, frame: dgram, vnet: v }]).drops).toEqual({ gso_malformed: 1 });
    // data offset 15 words (60 bytes) in a 40-byte TCP segment
    const short = superFrame({ payload: new Uint8Array(8), mss });
    short.frame[14 + 20 + 12] = 0xf0;
    expect(runNode(n1, [{ port: POD, frame: short.frame, vnet: short.vnet }]).drops).toEqual({ gso_malformed: 1 });
    // a TCPV4 "fragment"
    const frag = podFrame(N1, { dst: N2.pod, proto: 6, mf: true, payload: tcpSuper({ payload: pattern(3000) }) });
    expect(runNode(n1, [{ port: POD, frame: frag, vnet: short.vnet }]).drops).toEqual({ gso_malformed: 1 });
  });

  it('hdr_len past the end of the frame: bad_vnet_hdr', () => {
    const { n1 } = seg();
    const sent = superFrame({ payload: pattern(3000), mss });
    const v = vnet({ ...vnetFields(sent.vnet), hdrLen: sent.frame.length + 1 });
    expect(runNode(n1, [{ port: POD, frame: sent.frame, vnet: v }]).drops).toEqual({ bad_vnet_hdr: 1 });
  });

  it('a super-frame whose checksum field holds garbage: the segments\' checksums are computed from scratch', () => {
    const { n1 } = seg();
    const sent = superFrame({ payload: pattern(9000, 9), mss });
    sent.frame[14 + 20 + 16] ^= 0x5a;
    sent.tcp[16] ^= 0x5a;
    const r = segment(n1, sent);
    const inner = r.tx.map((t) => outerOk(kind, t.frame));
    for (const ip of inner) expect(tcpChecksumOk(ip)).toBe(true);
  });

  it('IPv4 options are copied into every segment', () => {
    const { n1, n2 } = seg();
    const tcp = tcpSuper({ payload: pattern(4000, 3) });
    const base = podFrame(N1, { dst: N2.pod, proto: 6, df: true, payload: tcp });
    // insert 4 bytes of options (NOP NOP NOP EOL) after the 20-byte header: IHL 6
    const ip = Uint8Array.from([...base.subarray(14, 34), 1, 1, 1, 0, ...base.subarray(34)]);
    ip[0] = 0x46; ip[2] = ip.length >> 8; ip[3] = ip.length & 0xff; ip[10] = ip[11] = 0;
    const c = refChecksum(ip.subarray(0, 24)); ip[10] = c >> 8; ip[11] = c & 0xff;
    const frame = Uint8Array.from([...base.subarray(0, 14), ...ip]);
    const v = vnet({ flags: 1, gsoType: GSO_TCPV4, hdrLen: 14 + 24 + THL, gsoSize: 1394, csumStart: 38, csumOffset: 16 });
    const r = segment(n1, { frame, vnet: v });
    expect(r.tx).toHaveLength(3);
    for (const t of r.tx) {
      const s = outerOk(kind, t.frame);
      expect(s.ihl).toBe(24);
      expect(Array.from(s.bytes.subarray(20, 24))).toEqual([1, 1, 1, 0]);
      expect(s.total).toBeLessThanOrEqual(1450);
      expect(tcpChecksumOk(s)).toBe(true);
    }
    expect(deliver(n2, r.tx)).toHaveLength(3);
  });
});

// the debug build keeps AssemblyScript's bounds asserts: a trap there is a bug the release build hides
describe.each(['release', 'debug'] as const)('software GSO: random super-frames (%s build)', (build) => {
  it('600 mutated super-frames through each overlay: no trap; each frame is sent (no drop) or dropped once', () => {
    const r = prng(0x6e50);
    const outcomes = new Map<string, number>();
    for (const kind of KINDS) {
      const [n1] = twoNodes(kind, { build, genSlots: 64 });
      n1.setUnderlayNoGso(true);
      for (let i = 0; i < 200; i++) {
        const tcp = tcpSuper({ payload: r.bytes(r.int(20000)), flags: r.int(256), seq: r.u32() });
        if (r.chance(0.1)) tcp[12] = r.int(16) << 4; // any data offset
        const frame = podFrame(N1, { dst: N2.pod, proto: r.chance(0.9) ? 6 : 17, df: r.chance(0.7), mf: r.chance(0.05), ttl: 1 + r.int(64), payload: tcp });
        const v = vnet({
          flags: r.int(2), gsoType: [GSO_TCPV4, GSO_TCPV4 | GSO_ECN, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4, 0][r.int(7)],
          hdrLen: r.chance(0.9) ? r.int(200) : 0xffff, gsoSize: r.chance(0.2) ? 1 + r.int(300) : 1 + r.int(3000),
          csumStart: r.chance(0.8) ? 34 : r.int(200), csumOffset: r.chance(0.8) ? 16 : r.int(40),
        });
        const res = runNode(n1, [{ port: POD, frame, vnet: v }]);
        for (const [k, n] of Object.entries(res.drops)) outcomes.set(k, (outcomes.get(k) ?? 0) + n);
        if (res.dropTotal === 0) {
          expect(res.tx.length, `frame ${i}: no drop, so something was sent`).toBeGreaterThan(0);
          outcomes.set('sent', (outcomes.get('sent') ?? 0) + 1);
        } else {
          expect(res.dropTotal, `frame ${i}: ${JSON.stringify(res.drops)}`).toBe(1);
          // at most the ICMP error about it, back to the pod
          expect(res.tx.length).toBeLessThanOrEqual(1);
          for (const t of res.tx) expect(t.port).toBe(POD);
        }
        for (const t of res.tx) if (t.port === UL) {
          expect(Array.from(t.vnet)).toEqual(new Array(10).fill(0));
          const ip = outerOk(kind, t.frame);
          expect(ip.headerOk).toBe(true);
          // segments carry a checksum computed from scratch; other frames the one the pod gave them
          if ((res.events.gso_segmented ?? 0) > 0 && !ip.mf && ip.offset === 0) expect(tcpChecksumOk(ip), `frame ${i} vnet ${Array.from(v)}`).toBe(true);
        }
      }
    }
    // the mix reached segmentation and the refusals, not one outcome only
    for (const k of ['sent', 'gso_unsupported', 'gso_malformed', 'gen_pool_empty', 'bad_vnet_hdr', 'ttl_exceeded']) {
      expect(outcomes.get(k) ?? 0, `${k} in ${JSON.stringify(Object.fromEntries(outcomes))}`).toBeGreaterThan(0);
    }
  });
});
