// Issue 11 item 6(c): VXLAN's outer UDP checksum is verified when it is not
// 0. Linux's vxlan sends 0 by default (RFC 7348 5: SHOULD be 0, and a
// receiver MUST accept 0), but a sender may fill it in (udpcsum on), and the
// kernel's UDP layer checks it before it gives the datagram to the tunnel
// (net/ipv4/udp.c udp_queue_rcv_one_skb: "Verify checksum before giving to
// encap", udp_lib_checksum_complete -> csum_error, UDP_MIB_CSUMERRORS).
import { describe, it, expect } from 'vitest';
import { eth, vnet } from './frames.ts';
import { twoNodes, runNode, vxlanFrame, ip4, udp, pseudo, pattern, rd16, N1, N2, UL } from './overlay-kit.ts';
import { cat } from './service-kit.ts';
import { refChecksum } from '../util.ts';

/** Node 2's VXLAN frame to node 1 for its pod, outer UDP checksum filled in (or `csum` as given). */
function fromN2(csum?: number): Uint8Array {
  const inner = eth(N1.vtep, N2.vtep, 0x0800, ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 53, 5000, pattern(40)) }));
  const f = vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner });
  const u = f.subarray(34);
  const c = csum ?? (refChecksum(cat(pseudo(N2.ul, N1.ul, 17, u.length), u)) || 0xffff);
  f[40] = c >> 8;
  f[41] = c & 0xff;
  return f;
}

describe('VXLAN outer UDP checksum', () => {
  it('0 (none, as Linux sends it): decapsulated', () => {
    const [n1] = twoNodes('vxlan');
    const r = runNode(n1, [{ port: UL, frame: fromN2(0) }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
  });

  it('filled in and right: decapsulated', () => {
    const [n1] = twoNodes('vxlan');
    const f = fromN2();
    expect(rd16(f, 40)).not.toBe(0);
    const r = runNode(n1, [{ port: UL, frame: f }]);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ vxlan_decap: 1 });
  });

  it('filled in and wrong: dropped (vxlan_bad_checksum), not decapsulated', () => {
    const [n1] = twoNodes('vxlan');
    const good = rd16(fromN2(), 40);
    const r = runNode(n1, [{ port: UL, frame: fromN2(good ^ 0x0100) }]);
    expect(r.drops).toEqual({ vxlan_bad_checksum: 1 });
    expect(r.tx).toEqual([]);
  });

  it('a partial outer checksum (NEEDS_CSUM, a kernel peer leaving it to "hardware") is not checked', () => {
    const [n1] = twoNodes('vxlan');
    const f = fromN2(0x1234);
    const r = runNode(n1, [{ port: UL, frame: f, vnet: vnet({ flags: 1, csumStart: 34, csumOffset: 6 }) }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
  });
});
