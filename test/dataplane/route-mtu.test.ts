// Local delivery checks the pod port's MTU (issue 11, item 3: route.ts
// routeMtu for local routes), and fragmenting a packet with IP options keeps
// only the copied ones after the first fragment (item 6: RFC 791; Linux's
// ip_options_fragment overwrites the others with NOOPs).
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import { N1, N2, POD, UL, INNER_IP, twoNodes, runNode, ip4, udp, pattern, ipAt4, rd16, type IpView } from './overlay-kit.ts';
import { reassemble, udpOk } from './frag-kit.ts';
import { refChecksum } from '../util.ts';

const toGw = (me: typeof N1, p: Uint8Array) => eth(me.gwMac, me.podMac, 0x0800, p);

describe('local delivery checks the pod port\'s MTU (routeMtu for local routes)', () => {
  function hostGw(): [Dataplane, Dataplane] {
    const [n1, n2] = twoNodes('host-gw');
    n1.attachPort(POD, 1400); // the pod's MTU, below the underlay's 1500
    return [n1, n2];
  }
  const fromUnderlay = (df: boolean, size: number) =>
    eth(N1.ulMac, N2.ulMac, 0x0800, ip4({ src: N2.pod, dst: N1.pod, proto: 17, df, payload: udp(N2.pod, N1.pod, 7, 8, pattern(size - 28)) }));

  it('DF, 1450 bytes from the underlay to a local pod of MTU 1400: ICMP fragmentation needed (MTU 1400) back to the sender', () => {
    const [n1] = hostGw();
    const r = runNode(n1, [{ port: UL, frame: fromUnderlay(true, 1450) }]);
    expect(r.drops).toEqual({ frag_needed: 1 });
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(UL);
    const icmp = ipAt4(r.tx[0].frame, 14);
    expect([icmp.src, icmp.dst, icmp.payload[0], icmp.payload[1], rd16(icmp.payload, 6)]).toEqual([N1.gw, N2.pod, 3, 4, 1400]);
  });

  it('no DF, 1450 bytes: fragmented to fit the pod port (1400), delivered', () => {
    const [n1] = hostGw();
    const r = runNode(n1, [{ port: UL, frame: fromUnderlay(false, 1450) }]);
    expect(r.drops).toEqual({});
    expect(r.tx.map((t) => t.port)).toEqual([POD, POD]);
    const views = r.tx.map((t) => ipAt4(t.frame, 14));
    for (const v of views) expect(v.total).toBeLessThanOrEqual(1400);
    expect(udpOk(reassemble(views).l4, N2.pod, N1.pod).csumOk).toBe(true);
  });

  it('DF, 1400 bytes (exactly the pod MTU): delivered whole', () => {
    const [n1] = hostGw();
    const r = runNode(n1, [{ port: UL, frame: fromUnderlay(true, 1400) }]);
    expect(r.drops).toEqual({});
    expect(r.tx.map((t) => t.port)).toEqual([POD]);
  });
});

describe('fragmenting a packet with IP options (RFC 791: only copied options in later fragments)', () => {
  it('record route (copy flag 0) is in the first fragment only (NOOPs after, as Linux); router alert (copied) in every one', () => {
    const [n1] = twoNodes('vxlan');
    const opts = Uint8Array.from([7, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0, 1]); // RR (1 slot), RA, NOP: 12 bytes
    const l4 = udp(N1.pod, N2.pod, 1, 2, pattern(2992));
    const hdr = ip4({ src: N1.pod, dst: N2.pod, proto: 17, payload: new Uint8Array(0) });
    const p = new Uint8Array(32 + l4.length);
    p.set(hdr.subarray(0, 20));
    p[0] = 0x48;
    p[2] = p.length >> 8; p[3] = p.length & 0xff;
    p[10] = 0; p[11] = 0;
    p.set(opts, 20);
    const c = refChecksum(p.subarray(0, 32));
    p[10] = c >> 8; p[11] = c & 0xff;
    p.set(l4, 32);
    const r = runNode(n1, [{ port: POD, frame: toGw(N1, p) }]);
    expect(r.drops).toEqual({});
    const views = r.tx.map((t) => ipAt4(t.frame, INNER_IP.vxlan)).sort((a, b) => a.offset - b.offset);
    expect(views.length).toBeGreaterThan(2);
    const optsOf = (v: IpView) => Array.from(v.bytes.subarray(20, v.ihl));
    expect(optsOf(views[0])).toEqual(Array.from(opts));
    for (const v of views.slice(1)) {
      expect(v.ihl).toBe(32);
      expect(v.headerOk).toBe(true);
      expect(optsOf(v)).toEqual([1, 1, 1, 1, 1, 1, 1, 0x94, 4, 0, 0, 1]);
    }
    expect(udpOk(reassemble(views).l4, N1.pod, N2.pod).csumOk).toBe(true);
  });
});
