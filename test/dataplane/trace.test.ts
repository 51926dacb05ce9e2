// Decision traces in memory: two VXLAN nodes (overlay-kit), a Service on
// node 1 whose backend lives on node 2. A dry-run trace follows a synthetic
// SYN through the real tables and must leave them as they were.
import { describe, it, expect } from 'vitest';
import { Dataplane, type Dataplane as DP } from '../../src/dataplane/dataplane.ts';
import { readString } from '../../src/dataplane/wasm.ts';
import { TRACE_STEPS } from '../../src/dataplane/trace.ts';
import { traceWalk, type TraceWalkNode } from '../../src/dataplane/trace-walk.ts';
import { probeFrame } from '../../src/dataplane/probe.ts';
import { twoNodes, N1, N2, N3_UL, N3_UL_MAC, POD, UL } from './overlay-kit.ts';

const VIP = '10.96.0.10';

function walkNodes(n1: DP, n2: DP): TraceWalkNode[] {
  const names = (node: string, dp: DP) => ({
    port: (p: number) => (p === UL ? `${node}/underlay` : p === POD ? `${node}/pod` : `${node}/port${p}`),
    service: (vip: string, port: number, proto: string) => (vip === VIP && port === 80 && proto === 'tcp' ? 'default/web' : undefined),
    drop: (r: number) => dp.dropName(r),
  });
  return [
    { name: 'n1', dp: n1, ulPort: UL, fabric: true, names: names('n1', n1) },
    { name: 'n2', dp: n2, ulPort: UL, fabric: true, names: names('n2', n2) },
  ];
}

/** The node whose underlay MAC an underlay frame (vnet header at `at`) is for. */
function ownerOf(n1: DP, at: number): number | undefined {
  const m = new Uint8Array(n1.memory.buffer, at + n1.vnetLen, 6);
  const mac = [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return mac === N1.ulMac ? 0 : mac === N2.ulMac ? 1 : undefined;
}

const syn = (dst: string, port = 80) => probeFrame({ srcMac: N1.podMac, dstMac: N1.gwMac, srcIp: N1.pod, dstIp: dst, proto: 'tcp', port });

function state(dp: DP) {
  return { ct: dp.ctCount(), conntrack: JSON.stringify(dp.conntrack(0)), fdb: JSON.stringify(dp.fdb(0)), counters: JSON.stringify(dp.counters()) };
}

describe('decision traces', () => {
  it('the decoder knows the data plane\'s steps, in its order', () => {
    const dp = new Dataplane({ slots: 4, slotSize: 4096, maxPorts: 4 });
    expect(dp.ex.traceBuilt()).toBe(1);
    const names = Array.from({ length: dp.ex.traceStepCount() }, (_, i) => readString(dp.memory, dp.ex.traceStepName(i)));
    expect(names).toEqual([...TRACE_STEPS]);
    const plain = new Dataplane({ slots: 4, slotSize: 4096, maxPorts: 4, build: 'notrace' });
    expect(plain.ex.traceBuilt()).toBe(0);
  });

  it('a trace to a Service on another node names the Service, the backend and the VXLAN encapsulation', () => {
    const [n1, n2] = twoNodes('vxlan');
    n1.addService(VIP, 80, 'tcp', [{ ip: N2.pod, port: 8080 }]);
    const r = traceWalk(walkNodes(n1, n2), 0, POD, syn(VIP), (at) => ownerOf(n1, at));
    expect(r.hops.map((h) => h.node)).toEqual(['n1', 'n2']);
    const text = r.hops.flatMap((h) => h.steps.map((s) => `${h.node}: ${s.text}`)).join('\n');
    expect(text).toContain('Service default/web');
    expect(text).toContain(`backend 1 of 1: ${N2.pod}:8080 (random)`);
    expect(text).toContain(`DNAT: destination ${VIP}:80 -> ${N2.pod}:8080`);
    expect(text).toMatch(new RegExp(`encap VXLAN: outer ${N1.ul}:\\d+ -> ${N2.ul}:8472 udp, VNI 1, \\+50 bytes`));
    expect(text).toContain(`n2: decap VXLAN VNI 1: outer ${N1.ul} -> ${N2.ul}`);
    expect(text).toContain(`route: ${N2.cidr} via vxlan tunnel to ${N2.ul}, route MTU 1450`);
    expect(r.outcomes).toEqual([{ node: 'n2', port: 'n2/pod' }]);
  });

  it('over a bridge underlay: a frame to another traced node is followed there; one for a host the walk does not run leaves by the underlay port', () => {
    const [n1, n2] = twoNodes('vxlan');
    const bridged = walkNodes(n1, n2).map((n) => ({ ...n, fabric: false, bridged: true }));
    const r = traceWalk(bridged, 0, POD, syn(N2.pod, 8080), (at) => ownerOf(n1, at));
    expect(r.hops.map((h) => h.node)).toEqual(['n1', 'n2']);
    expect(r.outcomes).toEqual([{ node: 'n2', port: 'n2/pod' }]);
    // no node of the walk owns the destination MAC (a kernel node, an external host): out of n1's underlay port
    const away = traceWalk(bridged, 0, POD, syn(N2.pod, 8080), () => undefined);
    expect(away.hops.map((h) => h.node)).toEqual(['n1']);
    expect(away.outcomes).toEqual([{ node: 'n1', port: 'n1/underlay' }]);
    // a real device the walk cannot see behind (a socket): the trace ends at the underlay port
    const socket = walkNodes(n1, n2).map((n) => ({ ...n, fabric: false }));
    expect(traceWalk(socket, 0, POD, syn(N2.pod, 8080), (at) => ownerOf(n1, at)).outcomes).toEqual([{ node: 'n1', port: 'n1/underlay' }]);
  });

  it('injected at a tunnel-GSO underlay port: the 24-byte header is laid out as a TAP read would, not taken from what the slot held', () => {
    const [n1, n2] = twoNodes('vxlan');
    n1.setUnderlayTunnelGso(true);
    const bridged = walkNodes(n1, n2).map((n, i) => ({ ...n, fabric: false, bridged: true, tunnelGso: i === 0 }));
    // an earlier read left bytes in front of slot 0 (where the 24-byte header starts)
    const at = n1.readOffset(0);
    new Uint8Array(n1.memory.buffer).fill(0xff, at - 14, at);
    const fromOutside = probeFrame({ srcMac: N3_UL_MAC, dstMac: N1.ulMac, srcIp: N3_UL, dstIp: N1.ul, proto: 'icmp', port: 0 });
    const r = traceWalk(bridged, 0, UL, fromOutside, (x) => ownerOf(n1, x));
    const text = r.hops.flatMap((h) => h.steps.map((s) => s.text)).join('\n');
    expect(text).not.toContain('bad_vnet_hdr');
    expect(text).toContain('received on n1/underlay');
    expect(r.outcomes).toEqual([{ node: 'n1', port: 'n1/underlay' }]); // the echo reply, back the way it came
  });

  it('leaves no state behind: no conntrack entry, no learned MAC, counters and the backend choice unchanged', () => {
    const [n1, n2] = twoNodes('vxlan');
    n1.addService(VIP, 80, 'tcp', [{ ip: N2.pod, port: 8080 }, { ip: '10.244.1.3', port: 8080 }], { affinitySeconds: 60 });
    const before = [state(n1), state(n2)];
    // from a MAC the bridge has never seen: it must not be learned
    const f = probeFrame({ srcMac: '0a:58:0a:f4:00:09', dstMac: N1.gwMac, srcIp: '10.244.0.9', dstIp: VIP, proto: 'tcp', port: 80 });
    const first = traceWalk(walkNodes(n1, n2), 0, POD, f, (at) => ownerOf(n1, at));
    expect(first.hops[0].steps.some((s) => s.step === 'ct_create' && (s.detail.entry as number) >= 0)).toBe(true);
    expect([state(n1), state(n2)]).toEqual(before);
    // the same trace again makes the same choice (the RNG was put back, no affinity remembered)
    const again = traceWalk(walkNodes(n1, n2), 0, POD, f, (at) => ownerOf(n1, at));
    const backend = (t: typeof first) => t.hops[0].steps.find((s) => s.step === 'svc_backend')!.detail.backend;
    expect(backend(again)).toBe(backend(first));
    // and real traffic afterwards still creates its entry where the trace's was
    n1.putFrame(0, POD, f);
    n1.process(1);
    expect(n1.ctCount()).toBe(1);
  });

  it('a trace to an address with no route ends in the named drop', () => {
    const [n1, n2] = twoNodes('vxlan');
    const r = traceWalk(walkNodes(n1, n2), 0, POD, syn('192.0.2.7'), (at) => ownerOf(n1, at));
    expect(r.hops).toHaveLength(1);
    const steps = r.hops[0].steps;
    expect(steps.find((s) => s.step === 'no_route')?.text).toContain('no route to 192.0.2.7');
    expect(steps.at(-1)?.text).toBe('verdict: dropped (no_route)');
    // and the ICMP network unreachable the node sends back to the pod
    expect(r.outcomes).toEqual([{ node: 'n1', dropped: 'no_route' }, { node: 'n1', port: 'n1/pod', generated: true }]);
  });

  it('a Service with no endpoints: the trace shows the reject and the reset it would send', () => {
    const [n1, n2] = twoNodes('vxlan');
    n1.addService(VIP, 80, 'tcp', []);
    const r = traceWalk(walkNodes(n1, n2), 0, POD, syn(VIP), (at) => ownerOf(n1, at));
    const text = r.hops[0].steps.map((s) => s.text).join('\n');
    expect(text).toContain('no endpoints: rejected');
    expect(text).toContain(`sent a TCP reset to ${N1.pod}`);
    expect(text).toContain('verdict: dropped (service_no_endpoints)');
  });

  it('tracing off leaves the ring empty; live tracing (not dry) records and changes state as usual', () => {
    const [n1] = twoNodes('vxlan');
    n1.putFrame(0, POD, syn('10.244.0.3'));
    n1.process(1);
    expect(n1.traceRecords().words.length).toBe(0);
    n1.traceBegin(false);
    n1.putFrame(0, POD, probeFrame({ srcMac: '0a:58:0a:f4:00:0a', dstMac: N1.gwMac, srcIp: '10.244.0.10', dstIp: '10.244.0.3', proto: 'udp', port: 53 }));
    n1.process(1);
    n1.traceEnd();
    expect(n1.traceRecords().words.length).toBeGreaterThan(0);
    expect(n1.fdb(0).some((e) => e.mac === '0a:58:0a:f4:00:0a')).toBe(true);
  });
});
