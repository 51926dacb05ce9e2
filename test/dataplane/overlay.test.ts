// Routing and the overlays between two nodes (assembly/stages/route.ts,
// encap.ts, decap.ts, icmp_error.ts) through the release build: node 1's pod
// sends to node 2's pod; node 1's underlay frame is checked byte by byte,
// then handed to node 2 by address as the engine's fabric does, and what
// node 2 delivers to its pod is checked in turn.
import { describe, it, expect } from 'vitest';
import { GEN_SLOT, type Dataplane } from '../../src/dataplane/dataplane.ts';
import { refChecksum } from '../util.ts';
import { vnet, eth } from './frames.ts';
import {
  N1, N2, N3_UL, POD, UL, TUNNEL_MTU, INNER_IP, twoNodes, runNode, handOver, podFrame, ip4, udp, tcpPartial, icmpMsg,
  arpRequest, pattern, pseudo, macAt, ipAt, ipAt4, rd16, rd32, vnetFields, type Kind, type Sent, type NodeResult,
} from './overlay-kit.ts';

const KINDS: Kind[] = ['vxlan', 'ipip', 'host-gw'];
const EPHEMERAL = [32768, 61000] as const; // Linux ip_local_port_range: where vxlan draws source ports

/** A UDP packet from node 1's pod to node 2's pod. */
const podUdp = (o: { sport?: number; dport?: number; payload?: Uint8Array; ttl?: number; df?: boolean; dst?: string } = {}) => {
  const dst = o.dst ?? N2.pod;
  return podFrame(N1, { dst, ttl: o.ttl, df: o.df ?? true, proto: 17, payload: udp(N1.pod, dst, o.sport ?? 5000, o.dport ?? 53, o.payload ?? pattern(100)) });
};

/** Node 1's one underlay frame for `frame` (from its pod). */
function encap(n1: Dataplane, frame: Uint8Array, v?: Uint8Array): { r: NodeResult; out: Sent } {
  const r = runNode(n1, [{ port: POD, frame, vnet: v }]);
  expect(r.drops, 'node 1 drops').toEqual({});
  expect(r.tx).toHaveLength(1);
  expect(r.tx[0].port).toBe(UL);
  return { r, out: r.tx[0] };
}

/** Check the outer headers of an underlay frame node 1 sent to node 2; returns the inner IPv4 packet. */
function checkOuter(kind: Kind, f: Uint8Array, o: { port?: number; vni?: number } = {}) {
  // a GSO super-frame near 64 KiB no longer fits the outer length fields: they saturate
  const sat = (n: number) => Math.min(n, 0xffff);
  expect(macAt(f, 0), 'outer eth dst').toBe(N2.ulMac);
  expect(macAt(f, 6), 'outer eth src').toBe(N1.ulMac);
  expect(rd16(f, 12)).toBe(0x0800);
  if (kind === 'host-gw') return ipAt4(f, 14);
  const outer = ipAt4(f, 14);
  expect(outer.ihl).toBe(20);
  expect(outer.headerOk, 'outer IPv4 checksum').toBe(true);
  expect(outer.proto).toBe(kind === 'vxlan' ? 17 : 4);
  expect(outer.src).toBe(N1.ul);
  expect(outer.dst).toBe(N2.ul);
  // VXLAN: the default TTL 64; IP-in-IP inherits the inner TTL (tunl0's ttl 0, ip_tunnel_xmit)
  expect(outer.ttl).toBe(kind === 'vxlan' ? 64 : ipAt4(f, 34).ttl);
  expect(outer.offset).toBe(0);
  expect(outer.mf).toBe(false);
  expect(outer.total).toBe(sat(f.length - 14));
  if (kind === 'vxlan') {
    const u = 34;
    const sport = rd16(f, u);
    expect(sport).toBeGreaterThanOrEqual(EPHEMERAL[0]);
    expect(sport).toBeLessThan(EPHEMERAL[1]);
    expect(rd16(f, u + 2), 'UDP dport').toBe(o.port ?? 8472);
    expect(rd16(f, u + 4), 'UDP length').toBe(sat(f.length - 34));
    expect(rd16(f, u + 6), 'UDP checksum (0: Linux vxlan over IPv4)').toBe(0);
    const vx = 42;
    expect(f[vx], 'VXLAN flags: I only').toBe(0x08);
    expect(Array.from(f.subarray(vx + 1, vx + 4))).toEqual([0, 0, 0]);
    expect(rd32(f, vx + 4) >>> 8, 'VNI').toBe(o.vni ?? 1);
    expect(f[vx + 7]).toBe(0);
    expect(macAt(f, 50), 'inner eth dst: node 2 VTEP').toBe(N2.vtep);
    expect(macAt(f, 56), 'inner eth src: node 1 VTEP').toBe(N1.vtep);
    expect(rd16(f, 62)).toBe(0x0800);
  }
  return ipAt4(f, INNER_IP[kind]);
}

/** Same packet, except TTL lowered by `hops` and the checksum to match; everything else byte-equal. */
function expectForwarded(got: ReturnType<typeof ipAt4>, sent: Uint8Array, hops: number) {
  expect(got.headerOk, 'IPv4 header checksum').toBe(true);
  expect(got.ttl).toBe(sent[8] - hops);
  const a = Uint8Array.from(got.bytes); a[8] = 0; a[10] = a[11] = 0;
  const b = Uint8Array.from(sent); b[8] = 0; b[10] = b[11] = 0;
  expect(Buffer.from(a).equals(Buffer.from(b)), 'packet unchanged but for TTL and checksum').toBe(true);
}

/** An ICMP error in `f` (Ethernet) from `from` to `to`, of type/code; returns the ICMP message. */
function expectIcmpError(f: Uint8Array, o: { from: string; to: string; type: number; code: number }) {
  expect(rd16(f, 12)).toBe(0x0800);
  const ip = ipAt4(f, 14);
  expect(ip.headerOk, 'ICMP error: IPv4 checksum').toBe(true);
  expect(ip.proto).toBe(1);
  expect(ip.src).toBe(o.from);
  expect(ip.dst).toBe(o.to);
  expect(ip.total).toBe(f.length - 14);
  const m = ip.payload;
  expect(m[0], 'ICMP type').toBe(o.type);
  expect(m[1], 'ICMP code').toBe(o.code);
  expect(refChecksum(m), 'ICMP checksum').toBe(0);
  return m;
}

describe.each(KINDS)('%s: pod on node 1 to pod on node 2', (kind) => {
  it('node 1 sends one underlay frame, right to the byte; node 2 delivers it to its pod', () => {
    const [n1, n2] = twoNodes(kind);
    const sent = podUdp({ df: true });
    const ipSent = sent.subarray(14);
    const { r, out } = encap(n1, sent);
    expect(out.slot).toBe(0); // encapsulated in place, in the frame's own slot
    expect(r.events).toMatchObject({ routed: 1, ...(kind === 'vxlan' ? { vxlan_encap: 1 } : kind === 'ipip' ? { ipip_encap: 1 } : { host_gw_out: 1 }) });
    expect(Array.from(out.vnet)).toEqual(new Array(10).fill(0));
    expect(out.frame.length).toBe(ipSent.length + (kind === 'vxlan' ? 50 + 14 : kind === 'ipip' ? 20 + 14 : 14));
    const inner = checkOuter(kind, out.frame);
    expectForwarded(inner, ipSent, 1);
    if (kind === 'ipip') expect(ipAt4(out.frame, 14).df, 'outer DF inherited (set)').toBe(true);

    const r2 = handOver(n2, out);
    expect(r2.drops, 'node 2 drops').toEqual({});
    expect(r2.tx).toHaveLength(1);
    const d = r2.tx[0];
    expect(d.port).toBe(POD);
    expect(macAt(d.frame, 0)).toBe(N2.podMac);
    expect(macAt(d.frame, 6)).toBe(N2.gwMac);
    expect(rd16(d.frame, 12)).toBe(0x0800);
    expect(d.frame.length).toBe(14 + ipSent.length);
    expectForwarded(ipAt4(d.frame, 14), ipSent, 2);
    expect(Array.from(d.vnet)).toEqual(new Array(10).fill(0));
    expect(r2.events).toMatchObject({ routed: 1, ...(kind === 'vxlan' ? { vxlan_decap: 1 } : kind === 'ipip' ? { ipip_decap: 1 } : {}) });
    expect(r2.events.flooded).toBeUndefined();
  });

  if (kind === 'ipip') {
    it('outer DF follows the inner packet: clear stays clear', () => {
      const [n1] = twoNodes(kind);
      const { out } = encap(n1, podUdp({ df: false }));
      expect(ipAt4(out.frame, 14).df).toBe(false);
      expect(ipAt4(out.frame, 34).df).toBe(false);
    });
  }

  it('GSO: a TCPv4 super-frame with a partial checksum crosses whole; csum_start/hdr_len arrive as sent', () => {
    for (const tcpPayload of [20000, 65535 - 40]) {
      const [n1, n2] = twoNodes(kind);
      const tcp = tcpPartial(N1.pod, N2.pod, 40000, 5201, pattern(tcpPayload, 3));
      const sent = podFrame(N1, { dst: N2.pod, proto: 6, df: true, payload: tcp });
      const v = vnet({ flags: 1, gsoType: 1, hdrLen: 14 + 20 + 20, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
      const { r, out } = encap(n1, sent, v);
      expect(r.events.gso_frames).toBe(1);
      const shift = kind === 'vxlan' ? 50 : kind === 'ipip' ? 20 : 0;
      // on the underlay the offsets count from the outer frame's start
      expect(vnetFields(out.vnet)).toEqual({ flags: 1, gsoType: 1, hdrLen: 54 + shift, gsoSize: 1448, csumStart: 34 + shift, csumOffset: 16 });
      const inner = checkOuter(kind, out.frame);
      expectForwarded(inner, sent.subarray(14), 1);

      const r2 = handOver(n2, out);
      expect(r2.drops).toEqual({});
      expect(r2.tx).toHaveLength(1);
      const d = r2.tx[0];
      expect(d.port).toBe(POD);
      expect(Array.from(d.vnet), 'vnet header exactly as sent').toEqual(Array.from(v));
      expect(d.frame.length, `${tcpPayload}-byte segment: whole`).toBe(sent.length);
      expect(macAt(d.frame, 0)).toBe(N2.podMac);
      expect(macAt(d.frame, 6)).toBe(N2.gwMac);
      expectForwarded(ipAt4(d.frame, 14), sent.subarray(14), 2);
    }
  });

  it('TTL 1: ICMP time exceeded back to the source pod, from the gateway, quoting the packet', () => {
    const [n1] = twoNodes(kind);
    const sent = podUdp({ ttl: 1 });
    const r = runNode(n1, [{ port: POD, frame: sent }]);
    expect(r.drops).toEqual({ ttl_exceeded: 1 });
    expect(r.events).toMatchObject({ icmp_errors_sent: 1 });
    expect(r.tx).toHaveLength(1);
    const e = r.tx[0];
    expect(e.slot).toBe(GEN_SLOT);
    expect(e.port).toBe(POD);
    expect(macAt(e.frame, 0)).toBe(N1.podMac);
    expect(macAt(e.frame, 6)).toBe(N1.gwMac);
    const m = expectIcmpError(e.frame, { from: N1.gw, to: N1.pod, type: 11, code: 0 });
    expect(rd32(m, 4)).toBe(0);
    // the whole offending packet fits in 576 bytes: quoted whole, TTL 1 as received
    expect(Buffer.from(m.subarray(8)).equals(Buffer.from(sent.subarray(14)))).toBe(true);
  });

  it('TTL 2: node 2 sends time exceeded back through the overlay to the source pod', () => {
    const [n1, n2] = twoNodes(kind);
    const sent = podUdp({ ttl: 2 });
    const { out } = encap(n1, sent);
    const r2 = handOver(n2, out);
    expect(r2.drops).toEqual({ ttl_exceeded: 1 });
    expect(r2.tx).toHaveLength(1);
    expect(r2.tx[0].port).toBe(UL);
    expect(r2.tx[0].slot).toBe(GEN_SLOT);
    const r1 = handOver(n1, r2.tx[0]);
    expect(r1.drops).toEqual({});
    expect(r1.tx).toHaveLength(1);
    const back = r1.tx[0];
    expect(back.port).toBe(POD);
    expect(macAt(back.frame, 0)).toBe(N1.podMac);
    expect(macAt(back.frame, 6)).toBe(N1.gwMac);
    const m = expectIcmpError(back.frame, { from: N2.gw, to: N1.pod, type: 11, code: 0 });
    expect(ipAt4(back.frame, 14).ttl).toBe(63);
    // quoted as node 2 received it: TTL 1, everything else as sent
    const q = ipAt4(m, 8);
    expect(q.ttl).toBe(1);
    expect(q.headerOk).toBe(true);
    expect(Buffer.from(q.payload).equals(Buffer.from(sent.subarray(34)))).toBe(true);
  });

  it('no route: ICMP net unreachable to the source pod', () => {
    const [n1] = twoNodes(kind);
    const sent = podUdp({ dst: '192.0.2.9' });
    const r = runNode(n1, [{ port: POD, frame: sent }]);
    expect(r.drops).toEqual({ no_route: 1 });
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(POD);
    const m = expectIcmpError(r.tx[0].frame, { from: N1.gw, to: N1.pod, type: 3, code: 0 });
    expect(Buffer.from(m.subarray(8)).equals(Buffer.from(sent.subarray(14)))).toBe(true);
  });

  const mtu = TUNNEL_MTU[kind];
  it(`DF and larger than the tunnel MTU (${mtu}): ICMP fragmentation needed with next-hop MTU ${mtu}`, () => {
    const [n1] = twoNodes(kind);
    // exactly the MTU passes
    const fits = podUdp({ df: true, payload: pattern(mtu - 28) });
    expect(fits.length - 14).toBe(mtu);
    expect(runNode(n1, [{ port: POD, frame: fits }]).tx[0].port).toBe(UL);
    const sent = podUdp({ df: true, payload: pattern(mtu - 27) });
    const r = runNode(n1, [{ port: POD, frame: sent }]);
    expect(r.drops).toEqual({ frag_needed: 1 });
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(POD);
    const m = expectIcmpError(r.tx[0].frame, { from: N1.gw, to: N1.pod, type: 3, code: 4 });
    expect(rd16(m, 4), 'unused').toBe(0);
    expect(rd16(m, 6), 'next-hop MTU (RFC 1191)').toBe(mtu);
    // quoted: the header as received (TTL not yet decremented) and as much as fits in 576 bytes
    expect(m.length - 8).toBe(576 - 28);
    expect(Buffer.from(m.subarray(8)).equals(Buffer.from(sent.subarray(14, 14 + 548)))).toBe(true);
  });

  it('no DF, 3000 bytes: fragments, each encapsulated, each fits the tunnel MTU, reassembling to the original', () => {
    const [n1, n2] = twoNodes(kind);
    const sent = podUdp({ df: false, payload: pattern(3000 - 28, 5) });
    const ipSent = ipAt4(sent, 14);
    expect(ipSent.total).toBe(3000);
    const r = runNode(n1, [{ port: POD, frame: sent }]);
    expect(r.drops).toEqual({});
    const chunk = (mtu - 20) & ~7;
    const want = Math.ceil(2980 / chunk);
    expect(r.tx).toHaveLength(want);
    expect(r.events).toMatchObject({ fragments_sent: want });
    const frags = r.tx.map((t) => {
      expect(t.port).toBe(UL);
      expect(t.slot).toBe(GEN_SLOT);
      return checkOuter(kind, t.frame);
    });
    const check = (fs: ReturnType<typeof ipAt4>[], ttl: number) => {
      let next = 0;
      fs.forEach((f, i) => {
        expect(f.headerOk).toBe(true);
        expect(f.total).toBeLessThanOrEqual(mtu);
        expect(f.offset % 8).toBe(0);
        expect(f.offset).toBe(next);
        expect(f.mf, `fragment ${i} MF`).toBe(i < fs.length - 1);
        expect(f.df).toBe(false);
        expect(f.id).toBe(ipSent.id);
        expect(f.ttl).toBe(ttl);
        expect([f.src, f.dst, f.proto]).toEqual([N1.pod, N2.pod, 17]);
        if (i < fs.length - 1) expect(f.payload.length % 8).toBe(0);
        next += f.payload.length;
      });
      expect(next).toBe(2980);
      expect(Buffer.concat(fs.map((f) => f.payload)).equals(Buffer.from(ipSent.payload)), 'reassembled payload').toBe(true);
    };
    check(frags, 63);
    if (kind === 'ipip') for (const t of r.tx) expect(ipAt4(t.frame, 14).df).toBe(false);
    // one datagram, one underlay path: the ports are in the first fragment only, so
    // no fragment's source port may depend on them (Linux hashes fragments without ports)
    if (kind === 'vxlan') expect(new Set(r.tx.map((t) => rd16(t.frame, 34))).size, 'outer source ports').toBe(1);
    // and node 2 delivers each fragment to its pod
    const delivered = r.tx.map((t) => {
      const r2 = handOver(n2, t);
      expect(r2.drops).toEqual({});
      expect(r2.tx).toHaveLength(1);
      expect(r2.tx[0].port).toBe(POD);
      expect(macAt(r2.tx[0].frame, 0)).toBe(N2.podMac);
      return ipAt4(r2.tx[0].frame, 14);
    });
    check(delivered, 62);
  });

  it('no DF, 3000 bytes, partial checksum (NEEDS_CSUM): completed before fragmenting', () => {
    // no fragment holds the whole datagram the partial sum covers, and fragments
    // carry no vnet header: the checksum must be finished first (the kernel's
    // ip_do_fragment calls skb_checksum_help)
    const [n1] = twoNodes(kind);
    const data = pattern(3000 - 28, 9);
    const full = udp(N1.pod, N2.pod, 5000, 53, data);
    const partial = Uint8Array.from(full);
    // the field holds the folded pseudo-header sum only, as a guest with offload sends it
    const pseudoSum = ~refChecksum(pseudo(N1.pod, N2.pod, 17, full.length)) & 0xffff;
    partial[6] = pseudoSum >> 8; partial[7] = pseudoSum & 0xff;
    const sent = podFrame(N1, { dst: N2.pod, df: false, proto: 17, payload: partial });
    const r = runNode(n1, [{ port: POD, frame: sent, vnet: vnet({ flags: 1, csumStart: 34, csumOffset: 6 }) }]);
    expect(r.drops).toEqual({});
    expect(r.tx.length).toBeGreaterThan(1);
    const payload = Buffer.concat(r.tx.map((t) => {
      expect(vnetFields(t.vnet).flags, 'fragments need no checksum help').toBe(0);
      return ipAt4(t.frame, INNER_IP[kind]).payload;
    }));
    expect(payload.length).toBe(full.length);
    expect(rd16(payload, 6), 'UDP checksum, completed').toBe(rd16(full, 6));
    expect(payload.equals(Buffer.from(full))).toBe(true);
  });

  it('no DF, 3000 bytes, 802.1Q priority-tagged (VID 0, routed), csum_start inside the MAC header: refused (bad_vnet_hdr), not a trap', () => {
    // stripping the tag moves csum_start back 4 bytes: 2 wraps to 0xfffe
    const [n1] = twoNodes(kind);
    const plain = podUdp({ df: false, payload: pattern(3000 - 28) });
    const tagged = Uint8Array.from([...plain.subarray(0, 12), 0x81, 0x00, 0xa0, 0x00, ...plain.subarray(12)]);
    const r = runNode(n1, [{ port: POD, frame: tagged, vnet: vnet({ flags: 1, csumStart: 2, csumOffset: 0 }) }]);
    expect(r.drops).toEqual({ bad_vnet_hdr: 1 });
    expect(r.tx).toEqual([]);
  });

  it('ICMP errors are never sent about ICMP errors or non-first fragments', () => {
    const [n1] = twoNodes(kind);
    const quoted = ip4({ src: N2.pod, dst: N1.pod, proto: 17, payload: pattern(8) });
    const aboutError = podFrame(N1, { dst: N2.pod, ttl: 1, proto: 1, payload: icmpMsg(3, 3, 0, quoted) });
    const laterFragment = podFrame(N1, { dst: N2.pod, ttl: 1, proto: 17, offset: 1480, payload: pattern(64) });
    const noRouteError = podFrame(N1, { dst: '192.0.2.9', proto: 1, payload: icmpMsg(11, 0, 0, quoted) });
    const r = runNode(n1, [aboutError, laterFragment, noRouteError].map((frame) => ({ port: POD, frame })));
    expect(r.tx).toEqual([]);
    expect(r.drops).toEqual({ ttl_exceeded: 2, no_route: 1 });
    expect(r.events).toMatchObject({ icmp_errors_suppressed: 3 });
    expect(r.events.icmp_errors_sent).toBeUndefined();
    // an echo request is not an error: it does get one
    const echo = podFrame(N1, { dst: N2.pod, ttl: 1, proto: 1, payload: icmpMsg(8, 0, 0x10001, pattern(16)) });
    const r2 = runNode(n1, [{ port: POD, frame: echo }]);
    expect(r2.events).toMatchObject({ icmp_errors_sent: 1 });
    expectIcmpError(r2.tx[0].frame, { from: N1.gw, to: N1.pod, type: 11, code: 0 });
  });
});

describe.each([
  { port: 8472, vni: 1 },
  { port: 4789, vni: 0xabcdef },
])('vxlan on UDP port $port, VNI $vni', ({ port, vni }) => {
  it('dport and VNI as configured; node 2 with the same settings decapsulates', () => {
    const [n1, n2] = twoNodes('vxlan', { port, vni });
    const sent = podUdp();
    const { out } = encap(n1, sent);
    checkOuter('vxlan', out.frame, { port, vni });
    const r2 = handOver(n2, out);
    expect(r2.drops).toEqual({});
    expect(r2.tx[0].port).toBe(POD);
  });

  it('source port: from the inner flow, same for the same flow, spread across flows', () => {
    const [n1] = twoNodes('vxlan', { port, vni });
    const sportOf = (f: Uint8Array) => rd16(encap(n1, f).out.frame, 34);
    const a1 = sportOf(podUdp({ sport: 1111, payload: pattern(50, 1) }));
    const a2 = sportOf(podUdp({ sport: 1111, payload: pattern(700, 2) }));
    expect(a2, 'same 5-tuple, different payload').toBe(a1);
    const others = [1112, 2222, 3333, 4444, 5555, 6666, 7777, 8888].map((s) => sportOf(podUdp({ sport: s })));
    for (const s of others) {
      expect(s).toBeGreaterThanOrEqual(EPHEMERAL[0]);
      expect(s).toBeLessThan(EPHEMERAL[1]);
    }
    expect(new Set([a1, ...others]).size, 'nine flows, more than one source port').toBeGreaterThan(4);
  });
});

describe('underlay input: what node 2 refuses', () => {
  /** Node 1's VXLAN frame for a pod packet, as bytes, to mutate. */
  const vxlanBytes = (o: { port?: number; vni?: number } = {}) => {
    const [n1, n2] = twoNodes('vxlan', o);
    return { n2, f: Uint8Array.from(encap(n1, podUdp()).out.frame) };
  };
  const deliver = (n2: Dataplane, frame: Uint8Array) => runNode(n2, [{ port: UL, frame }]);

  it('control: the unmodified frame is delivered', () => {
    const { n2, f } = vxlanBytes();
    const r = deliver(n2, f);
    expect(r.drops).toEqual({});
    expect(r.tx[0].port).toBe(POD);
  });

  const cases: [string, string, (f: Uint8Array) => void][] = [
    ['vxlan_bad_vni', 'VNI 2 where node 2 serves VNI 1', (f) => { f[48] = 2; }],
    ['vxlan_malformed', 'VXLAN without the I flag', (f) => { f[42] = 0; }],
    ['vxlan_not_for_vtep', 'inner destination MAC not node 2\'s VTEP', (f) => { f[55] = 0x09; }],
    ['not_for_us', 'outer destination MAC: another node\'s', (f) => { f.set([0x0a, 0x58, 0xac, 0x1f, 0xff, 0x03], 0); }],
    ['underlay_unhandled', 'UDP to port 4789 on node 2\'s underlay IP (VXLAN is on 8472)', (f) => { f[36] = 4789 >> 8; f[37] = 4789 & 0xff; }],
  ];
  for (const [reason, what, mutate] of cases) {
    it(`${reason}: ${what}`, () => {
      const { n2, f } = vxlanBytes();
      mutate(f);
      const r = deliver(n2, f);
      expect(r.tx).toEqual([]);
      expect(r.drops).toEqual({ [reason]: 1 });
      expect(r.ports[UL]).toMatchObject({ rx_packets: 1, rx_drops: 1 });
    });
  }

  it('not_for_us: our MAC but another node\'s underlay IP (no forwarding between nodes on VXLAN)', () => {
    const { n2 } = vxlanBytes();
    const f = eth(N2.ulMac, N1.ulMac, 0x0800, ip4({ src: N1.ul, dst: N3_UL, proto: 17, payload: udp(N1.ul, N3_UL, 40000, 8472, pattern(30)) }));
    expect(deliver(n2, f).drops).toEqual({ not_for_us: 1 });
  });

  it('IP-in-IP node: VXLAN to its underlay IP is not a tunnel it serves', () => {
    const [, n2] = twoNodes('ipip');
    const [v1] = twoNodes('vxlan');
    const f = encap(v1, podUdp()).out.frame;
    expect(deliver(n2, Uint8Array.from(f)).drops).toEqual({ underlay_unhandled: 1 });
  });
});

describe('underlay input: LoadBalancer addresses a node announces (setAnnounced)', () => {
  const LB = '172.31.255.200';
  it('ARP for an announced address: answered with the node\'s MAC; for another node\'s, not_for_us; after withdrawal, not_for_us', () => {
    const [n1, n2] = twoNodes('vxlan');
    n2.setAnnounced([LB]);
    const r = runNode(n2, [{ port: UL, frame: arpRequest(N1.ulMac, N1.ul, LB) }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
    const f = r.tx[0].frame;
    expect(r.tx[0].port).toBe(UL);
    expect(rd16(f, 14 + 6), 'opcode').toBe(2);
    expect(macAt(f, 14 + 8), 'sender MAC: the announcing node').toBe(N2.ulMac);
    expect(ipAt(f, 14 + 14), 'sender IP: the LoadBalancer address').toBe(LB);
    expect(macAt(f, 14 + 18)).toBe(N1.ulMac);
    // node 1 does not announce it: the broadcast is not for it
    expect(runNode(n1, [{ port: UL, frame: arpRequest(N2.ulMac, N2.ul, LB) }]).drops).toEqual({ not_for_us: 1 });
    n2.setAnnounced([]);
    expect(runNode(n2, [{ port: UL, frame: arpRequest(N1.ulMac, N1.ul, LB) }]).drops).toEqual({ not_for_us: 1 });
  });

  it('an announced address is not a way out: a packet to it that no Service frontend translates has no route', () => {
    const [, n2] = twoNodes('host-gw');
    n2.setAnnounced([LB]);
    const f = eth(N2.ulMac, N1.ulMac, 0x0800, ip4({ src: N1.ul, dst: LB, proto: 17, payload: udp(N1.ul, LB, 5000, 9, pattern(20)) }));
    const r = runNode(n2, [{ port: UL, frame: f }]);
    expect(r.drops).toEqual({ no_route: 1 });
  });
});

describe('underlay input: node 2 answers for its underlay address', () => {
  for (const kind of KINDS) {
    it(`${kind}: ARP request for node 2's underlay IP gets a reply out of the underlay port`, () => {
      const [, n2] = twoNodes(kind);
      const r = runNode(n2, [{ port: UL, frame: arpRequest(N1.ulMac, N1.ul, N2.ul) }]);
      expect(r.drops).toEqual({});
      expect(r.tx).toHaveLength(1);
      const f = r.tx[0].frame;
      expect(r.tx[0].port).toBe(UL);
      expect(macAt(f, 0)).toBe(N1.ulMac);
      expect(macAt(f, 6)).toBe(N2.ulMac);
      expect(rd16(f, 12)).toBe(0x0806);
      expect(rd16(f, 14 + 6), 'opcode').toBe(2);
      expect(macAt(f, 14 + 8)).toBe(N2.ulMac);
      expect(ipAt(f, 14 + 14)).toBe(N2.ul);
      expect(macAt(f, 14 + 18)).toBe(N1.ulMac);
      expect(ipAt(f, 14 + 24)).toBe(N1.ul);
    });

    it(`${kind}: ICMP echo to node 2's underlay IP gets a reply`, () => {
      const [, n2] = twoNodes(kind);
      const req = eth(N2.ulMac, N1.ulMac, 0x0800, ip4({ src: N1.ul, dst: N2.ul, proto: 1, payload: icmpMsg(8, 0, 0x42_0007, pattern(56)) }));
      const r = runNode(n2, [{ port: UL, frame: req }]);
      expect(r.drops).toEqual({});
      expect(r.events).toMatchObject({ icmp_echo_replies: 1 });
      const f = r.tx[0].frame;
      expect(r.tx[0].port).toBe(UL);
      expect(macAt(f, 0)).toBe(N1.ulMac);
      expect(macAt(f, 6)).toBe(N2.ulMac);
      const ip = ipAt4(f, 14);
      expect(ip.headerOk).toBe(true);
      expect([ip.src, ip.dst, ip.proto]).toEqual([N2.ul, N1.ul, 1]);
      expect(ip.payload[0]).toBe(0);
      expect(refChecksum(ip.payload)).toBe(0);
      expect(rd32(ip.payload, 4)).toBe(0x42_0007);
      expect(Buffer.from(ip.payload.subarray(8)).equals(Buffer.from(pattern(56)))).toBe(true);
    });
  }
});

describe('the fabric: hand-overs within one round share the peer\'s tx list', () => {
  it('once it is full, a frame that finds no room on any port is counted as tx_full', () => {
    // The engine clears a node's tx list once per round; every hand-over to
    // it that round appends (engine.ts handOver: processRange(slots, 1) on the
    // one reserved rx entry). The list is sized for each rx entry processed
    // once, so enough hand-overs that flood can fill it.
    const [n1, n2] = twoNodes('vxlan');
    for (let p = 1; p < UL; p++) n2.attachPort(p, 1450); // 7 pod ports: an unknown MAC floods to all of them
    n2.setNeighbor('10.244.1.77', '0a:58:0a:f4:01:4d'); // a pod node 2 has not heard from yet
    const cap = n2.ex.txCap();
    const handOverKeep = () => {
      const out = encap(n1, podUdp({ dst: '10.244.1.77' })).out;
      n2.rxAddr[n2.slots] = out.start; n2.rxLen[n2.slots] = out.length; n2.rxPort[n2.slots] = UL;
      return n2.processRange(n2.slots, 1);
    };
    n2.txClear();
    const before = n2.counters();
    let queued = 0, handOvers = 0;
    while (queued < cap) { queued = handOverKeep(); handOvers++; }
    expect(handOvers).toBe(Math.ceil(cap / 7));
    expect(n2.counters().drops.tx_full).toBe(before.drops.tx_full); // the last flood still reached a port
    expect(handOverKeep()).toBe(cap);
    const after = n2.counters();
    expect(after.drops.tx_full - before.drops.tx_full).toBe(1);
    expect(after.drops.no_destination).toBe(before.drops.no_destination);
    n2.txClear();
  });
});
