// UDP-tunnel GSO on the underlay TAP (assembly/stages/tunnel_gso.ts) through
// the release build. With setUnderlayTunnelGso(true) (the kernel took
// TUN_F_UDP_TUNNEL_GSO and the TAP's header is struct
// virtio_net_hdr_v1_hash_tunnel, 24 bytes, linux/virtio_net.h 6.18), a TCP
// super-frame node 1's pod sends leaves whole under VXLAN with the header the
// kernel's virtio_net_hdr_tnl_to_skb validates (gso_type TCPV4 |
// UDP_TUNNEL_IPV4, NEEDS_CSUM at the inner TCP checksum, outer_th_offset at
// the outer UDP header, inner_nh_offset at the inner IPv4 header); read back
// by node 2 with that header in front, it is decapsulated whole and reaches
// the pod with a plain TCPV4 header. What the kernel cannot take is still
// segmented in software; the fallback (tunnel GSO off) segments everything.
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { Virtio } from '../../src/dataplane/layout.ts';
import { delta, vnet } from './frames.ts';
import { N1, N2, POD, UL, twoNodes, runNode, podFrame, tcpSuper, pattern, ipAt4, rd16, vnetFields, TCP_TS_HLEN as THL, type Sent } from './overlay-kit.ts';

const GSO_TCPV4 = 1, GSO_UDP_L4 = 5, TUNNEL_IPV4 = 0x20, NEEDS_CSUM = 1, UDP_TUNNEL_CSUM = 8;
const EXTRA = Virtio.VNET_TNL_HLEN - Virtio.VNET_HLEN;
const MSS = 1398;

/** Node 1's pod's TCP super-frame to node 2's pod with the vnet header Linux gives it. */
function superFrame(payload: number, gsoType = GSO_TCPV4) {
  const tcp = tcpSuper({ payload: pattern(payload) });
  const frame = podFrame(N1, { dst: N2.pod, proto: 6, df: true, payload: tcp });
  return { frame, vnet: vnet({ flags: NEEDS_CSUM, gsoType, hdrLen: 14 + 20 + THL, gsoSize: MSS, csumStart: 34, csumOffset: 16 }) };
}

function tunnelNodes(on: boolean): [Dataplane, Dataplane] {
  const [n1, n2] = twoNodes('vxlan');
  for (const n of [n1, n2]) {
    n.setUnderlayNoGso(true); // a TAP on a bridge: what it cannot take is segmented
    n.setUnderlayTunnelGso(on);
  }
  return [n1, n2];
}

/** The 24 bytes node `dp` wrote in front of tx entry `e`'s 10-byte header: what the TAP write sends first. */
function tunnelHeaderOf(dp: Dataplane, e: Sent) {
  const h = new Uint8Array(dp.memory.buffer.slice(e.start - Virtio.VNET_TNL_HLEN, e.start));
  const d = new DataView(h.buffer);
  return { ...vnetFields(h.subarray(0, 10)), rest: Array.from(h.subarray(10, 20)), outerTh: d.getUint16(20, true), innerNh: d.getUint16(22, true) };
}

/** Give node `dp` the bytes a TAP with the 24-byte header would read: header, then frame (at the slot's read offset - EXTRA). */
function readFromTap(dp: Dataplane, header: Uint8Array, frame: Uint8Array) {
  const slot = 0;
  const at = dp.readOffset(slot);
  const mem = new Uint8Array(dp.memory.buffer);
  mem.set(header, at - EXTRA);
  mem.set(frame, at + Virtio.VNET_HLEN);
  dp.rxAddr[slot] = at;
  dp.rxLen[slot] = Virtio.VNET_HLEN + frame.length;
  dp.rxPort[slot] = UL;
  const before = dp.counters();
  const n = dp.process(1);
  const tx = Array.from({ length: n }, (_, k) => ({ ...dp.txEntry(k), ...dp.txBytes(k) }));
  return { tx, ...delta(before, dp.counters()) };
}

function tunnelHeader(f: { flags: number; gsoType: number; hdrLen: number; gsoSize: number; csumStart: number; csumOffset: number; outerTh: number; innerNh: number }) {
  const h = new Uint8Array(Virtio.VNET_TNL_HLEN);
  const d = new DataView(h.buffer);
  h[0] = f.flags; h[1] = f.gsoType;
  d.setUint16(2, f.hdrLen, true); d.setUint16(4, f.gsoSize, true); d.setUint16(6, f.csumStart, true); d.setUint16(8, f.csumOffset, true);
  d.setUint16(20, f.outerTh, true); d.setUint16(22, f.innerNh, true);
  return h;
}

describe('UDP-tunnel GSO on the underlay TAP', () => {
  it('a TCP super-frame leaves whole under VXLAN, with the tunnel header the kernel validates', () => {
    const [n1] = tunnelNodes(true);
    const s = superFrame(20000);
    const r = runNode(n1, [{ port: POD, frame: s.frame, vnet: s.vnet }]);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ vxlan_encap: 1, tunnel_gso_sent: 1 });
    expect(r.events.gso_segmented).toBeUndefined();
    expect(r.tx.length).toBe(1);
    const e = r.tx[0];
    expect(e.port).toBe(UL);
    const f = e.frame;
    expect(f.length).toBe(s.frame.length + 50);
    const outer = ipAt4(f, 14);
    expect(outer.total, 'outer IPv4 length: exact, so ip_rcv trims nothing').toBe(f.length - 14);
    expect(outer.headerOk).toBe(true);
    expect(rd16(f, 38), 'outer UDP length exact').toBe(f.length - 34);
    const h = tunnelHeaderOf(n1, e);
    // virtio_net_hdr_tnl_to_skb: outer_th >= 14 + 20, inner_nh >= outer_th + 8, csum_start >= inner_nh + 20
    expect(h).toMatchObject({ flags: NEEDS_CSUM, gsoType: GSO_TCPV4 | TUNNEL_IPV4, gsoSize: MSS, csumStart: 64 + 20, csumOffset: 16, outerTh: 34, innerNh: 64 });
    expect(h.rest, 'num_buffers and the hash report: zero').toEqual(new Array(10).fill(0));
    expect(h.hdrLen, 'hdr_len follows the frame (moved by the 50 bytes of headers)').toBe(14 + 20 + THL + 50);
    // the inner packet is the pod's, byte for byte but the TTL (and its header checksum) and the VTEP MACs
    expect(Buffer.from(f.subarray(64 + 20)).equals(Buffer.from(s.frame.subarray(34))), 'inner TCP untouched (its partial checksum too)').toBe(true);
  });

  it('with outer checksums asked for (a --node host\'s TAP): the UDP_TUNNEL_CSUM flag and the pseudo-header sum the kernel adjusts per segment', () => {
    const [n1] = tunnelNodes(true);
    n1.setUnderlayTunnelGsoCsum(true);
    const s = superFrame(20000);
    const e = runNode(n1, [{ port: POD, frame: s.frame, vnet: s.vnet }]).tx[0];
    const f = e.frame;
    const h = tunnelHeaderOf(n1, e);
    expect(h).toMatchObject({ flags: NEEDS_CSUM | UDP_TUNNEL_CSUM, gsoType: GSO_TCPV4 | TUNNEL_IPV4, outerTh: 34, innerNh: 64 });
    // __skb_udp_tunnel_segment: partial = check - whole UDP length, then per segment + its length, as udp_set_csum leaves it
    const udpLen = f.length - 34;
    let sum = 17 + udpLen;
    for (const at of [26, 28, 30, 32]) sum += rd16(f, at); // outer source and destination addresses
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(rd16(f, 40)).toBe(sum);
    // a frame that is not a super-frame keeps checksum 0 (nothing segments it)
    const small = podFrame(N1, { dst: N2.pod, proto: 17, payload: pattern(64) });
    const e2 = runNode(n1, [{ port: POD, frame: small }]).tx[0];
    expect(rd16(e2.frame, 40)).toBe(0);
    expect(tunnelHeaderOf(n1, e2).flags & UDP_TUNNEL_CSUM).toBe(0);
  });

  it('node 2 takes it back whole from its TAP: decapsulated, a plain TCPV4 super-frame to the pod', () => {
    const [n1, n2] = tunnelNodes(true);
    const s = superFrame(30000);
    const sent = runNode(n1, [{ port: POD, frame: s.frame, vnet: s.vnet }]).tx[0];
    const h = tunnelHeaderOf(n1, sent);
    const r = readFromTap(n2, tunnelHeader({ ...h, flags: h.flags | UDP_TUNNEL_CSUM }), sent.frame);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ vxlan_decap: 1, tunnel_gso_received: 1, routed: 1 });
    expect(r.tx.length).toBe(1);
    expect(r.tx[0].port).toBe(POD);
    const v = vnetFields(r.tx[0].vnet);
    expect(v, 'no tunnel bits left, the checksum offsets moved back by the 50 bytes').toMatchObject({ flags: NEEDS_CSUM, gsoType: GSO_TCPV4, gsoSize: MSS, csumStart: 34, csumOffset: 16 });
    expect(r.tx[0].frame.length).toBe(s.frame.length);
    expect(Buffer.from(r.tx[0].frame.subarray(34)).equals(Buffer.from(s.frame.subarray(34)))).toBe(true);
  });

  it('falls back to software segmentation when the TAP has no tunnel GSO', () => {
    const [n1] = tunnelNodes(false);
    const s = superFrame(20000);
    const r = runNode(n1, [{ port: POD, frame: s.frame, vnet: s.vnet }]);
    expect(r.events.gso_segmented).toBe(Math.ceil(20000 / MSS));
    expect(r.events.tunnel_gso_sent).toBeUndefined();
    for (const e of r.tx) expect(vnetFields(e.vnet).gsoType).toBe(0);
  });

  it('still segments in software what the kernel cannot take: a super-frame too big for the outer IPv4 length', () => {
    const [n1] = tunnelNodes(true);
    const big = 65535 - 20 - THL; // inner IPv4 at its limit: the outer one would need 65571
    const s = superFrame(big);
    const r = runNode(n1, [{ port: POD, frame: s.frame, vnet: s.vnet }]);
    expect(r.events.tunnel_gso_sent).toBeUndefined();
    expect(r.events.gso_segmented).toBe(Math.ceil(big / MSS));
  });

  it('every frame on the tunnel TAP gets the 24-byte header, zero offsets when not a tunnel super-frame', () => {
    const [n1] = tunnelNodes(true);
    const tcp = tcpSuper({ payload: pattern(100) });
    const frame = podFrame(N1, { dst: N2.pod, proto: 6, payload: tcp });
    const r = runNode(n1, [{ port: POD, frame }]);
    expect(r.tx.length).toBe(1);
    const h = tunnelHeaderOf(n1, r.tx[0]);
    expect(h).toMatchObject({ flags: 0, gsoType: 0, outerTh: 0, innerNh: 0 });
  });

  it('refuses a tunnel GSO type on a pod port, and one naming anything but TCPv4 inside on the underlay', () => {
    const [n1, n2] = tunnelNodes(true);
    const s = superFrame(5000, GSO_TCPV4 | TUNNEL_IPV4);
    expect(runNode(n1, [{ port: POD, frame: s.frame, vnet: s.vnet }]).drops).toEqual({ bad_vnet_hdr: 1 });
    const ok = superFrame(5000);
    const sent = runNode(n1, [{ port: POD, frame: ok.frame, vnet: ok.vnet }]).tx[0];
    const h = tunnelHeaderOf(n1, sent);
    expect(readFromTap(n2, tunnelHeader({ ...h, gsoType: GSO_UDP_L4 | TUNNEL_IPV4 }), sent.frame).drops).toEqual({ bad_vnet_hdr: 1 });
  });

  it('a tunnel super-frame from the underlay that is not decapsulated goes nowhere else: a counted drop', () => {
    const [n1, n2] = tunnelNodes(true);
    const ok = superFrame(5000);
    const sent = runNode(n1, [{ port: POD, frame: ok.frame, vnet: ok.vnet }]).tx[0];
    const h = tunnelHeaderOf(n1, sent);
    // a VNI node 2 does not have: not decapsulated
    const f = new Uint8Array(sent.frame);
    f[48] ^= 0xff;
    const r = readFromTap(n2, tunnelHeader(h), f);
    expect(r.tx.length).toBe(0);
    expect(Object.values(r.drops).reduce((a, b) => a + b, 0)).toBe(1);
    expect(r.events.tunnel_gso_received).toBeUndefined();
  });
});
