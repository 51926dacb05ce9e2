// Issue 11 item 6(a): a UDP checksum podwire computes that comes out as 0
// is sent as 0xffff. RFC 768: "If the computed checksum is zero, it is
// transmitted as all ones"; 0 on the wire means "no checksum". The kernel
// does the same where it finishes a partial checksum in software
// (net/core/dev.c skb_checksum_help: `csum_fold(csum) ?: CSUM_MANGLED_0`).
// Here: a pod's UDP datagram with a partial checksum (virtio NEEDS_CSUM)
// whose complete checksum is 0, finished by podwire before a device that
// takes no offloads, and when fragmented.
import { describe, it, expect } from 'vitest';
import { vnet } from './frames.ts';
import { twoNodes, runNode, podFrame, udp, pseudo, pattern, rd16, N1, N2, POD, INNER_IP } from './overlay-kit.ts';
import { cat } from './service-kit.ts';
import { refChecksum } from '../util.ts';

/** A UDP datagram whose full checksum is 0 (the last payload word makes the sum all ones), its field holding the pseudo-header sum (NEEDS_CSUM). */
function zeroSumPartial(src: string, dst: string, size: number): Uint8Array {
  const d = udp(src, dst, 40000, 9000, pattern(size), true); // checksum field 0
  d[d.length - 2] = d[d.length - 1] = 0;
  const fix = refChecksum(cat(pseudo(src, dst, 17, d.length), d)); // ~sum: adding it makes the sum 0xffff
  d[d.length - 2] = fix >> 8;
  d[d.length - 1] = fix & 0xff;
  expect(refChecksum(cat(pseudo(src, dst, 17, d.length), d)), 'the complete checksum is 0').toBe(0);
  const p = ~refChecksum(pseudo(src, dst, 17, d.length)) & 0xffff; // the folded pseudo-header sum a guest leaves
  d[6] = p >> 8;
  d[7] = p & 0xff;
  return d;
}
const partial = vnet({ flags: 1, csumStart: 34, csumOffset: 6 });

describe('a computed UDP checksum of 0 goes out as 0xffff (RFC 768)', () => {
  it('finished before an underlay without offloads (VXLAN): 0xffff, and it verifies', () => {
    const [n1] = twoNodes('vxlan');
    n1.setUnderlayNoGso(true);
    const r = runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: N2.pod, proto: 17, payload: zeroSumPartial(N1.pod, N2.pod, 40) }), vnet: partial }]);
    expect(r.drops).toEqual({});
    const f = r.tx[0].frame;
    const u = INNER_IP.vxlan + 20;
    expect(rd16(f, u + 6).toString(16)).toBe('ffff');
    expect(refChecksum(cat(pseudo(N1.pod, N2.pod, 17, rd16(f, u + 4)), f.subarray(u)))).toBe(0);
  });

  it('finished before fragmenting (no DF, larger than the tunnel MTU): the first fragment carries 0xffff', () => {
    const [n1] = twoNodes('ipip');
    const r = runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: N2.pod, proto: 17, payload: zeroSumPartial(N1.pod, N2.pod, 1600) }), vnet: partial }]);
    expect(r.drops).toEqual({});
    expect(r.tx.length).toBe(2);
    expect(rd16(r.tx[0].frame, INNER_IP.ipip + 20 + 6).toString(16)).toBe('ffff');
  });
});
