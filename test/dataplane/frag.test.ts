// IP fragments through Service NAT (issue 11, item 2): reassembly before NAT
// (assembly/stages/defrag.ts, tables/frag_queue.ts) as Linux's nf_defrag_ipv4,
// refragmenting to the largest fragment seen (frag_max_size), bounded
// buffers, timeout and counted drops.
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import {
  N1, N2, POD, UL, INNER_IP, twoNodes, runNode, handOver, ip4, udp, pattern, pseudo, ipAt4, rd16, arpRequest,
  type Kind, type IpView, type NodeResult,
} from './overlay-kit.ts';
import { fragments, reassemble, udpOk } from './frag-kit.ts';

const VIP = '10.96.0.10';
const B1 = '10.244.0.3', B1_MAC = '0a:58:0a:f4:00:03', B1_PORT = 1;

/** Node 1 (VXLAN to node 2) with local backend pod B1 on port 1, and a Service VIP:53/udp. */
function serviceNodes(backend: { ip: string; port: number }, opts: { fragBuffers?: number } = {}): [Dataplane, Dataplane] {
  const [n1, n2] = twoNodes('vxlan', opts);
  n1.attachPort(B1_PORT, 1450);
  n1.setNeighbor(B1, B1_MAC);
  expect(runNode(n1, [{ port: B1_PORT, frame: arpRequest(B1_MAC, B1, N1.gw) }]).tx).toHaveLength(1);
  n1.addService(VIP, 53, 'udp', [backend]);
  return [n1, n2];
}

const toGw = (me: typeof N1, p: Uint8Array) => eth(me.gwMac, me.podMac, 0x0800, p);
/** Client fragments: a 4000-byte UDP datagram (3992 bytes of data) to VIP:53 as a pod of MTU 1450 sends it. */
const clientDatagram = (id = 0x4242) => udp(N1.pod, VIP, 40000, 53, pattern(3992, 1));
const clientFrags = (id = 0x4242) => fragments(clientDatagram(id), { src: N1.pod, dst: VIP, id, chunk: 1424 }).map((p) => toGw(N1, p));

describe('IP fragments to a Service (reassembly before NAT, as nf_defrag_ipv4)', () => {
  it('a 4000-byte UDP datagram to a ClusterIP with a local backend: reassembled, DNATed, refragmented at the largest fragment seen', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    const frags = clientFrags();
    const r = runNode(n1, frags.map((frame) => ({ port: POD, frame })));
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ frags_queued: 2, frags_reassembled: 1, service_dnat: 1 });
    expect(r.tx.map((t) => t.port)).toEqual([B1_PORT, B1_PORT, B1_PORT]);
    const views = r.tx.map((t) => ipAt4(t.frame, 14));
    for (const v of views) {
      expect(v.total, 'each fragment within the largest one received (frag_max_size)').toBeLessThanOrEqual(20 + 1424);
      expect([v.src, v.dst, v.ttl]).toEqual([N1.pod, B1, 63]);
    }
    const { l4 } = reassemble(views);
    expect(udpOk(l4, N1.pod, B1)).toEqual({ sport: 40000, dport: 5353, len: 4000, csumOk: true });
    expect(l4.subarray(8)).toEqual(pattern(3992, 1));
  });

  it('fragments in reverse order, and interleaved with another datagram: each reassembled on its own', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    const a = clientFrags(1), b = clientFrags(2);
    const r = runNode(n1, [a[2], b[0], a[1], b[2], a[0], b[1]].map((frame) => ({ port: POD, frame })));
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ frags_queued: 4, frags_reassembled: 2 });
    const byId = new Map<number, IpView[]>();
    for (const t of r.tx) { const v = ipAt4(t.frame, 14); byId.set(v.id, [...(byId.get(v.id) ?? []), v]); }
    expect([...byId.keys()].sort()).toEqual([1, 2]);
    for (const vs of byId.values()) expect(udpOk(reassemble(vs).l4, N1.pod, B1).csumOk).toBe(true);
  });

  it('the local backend\'s fragmented 4000-byte reply, bridged straight to the client, comes back un-DNATed (VIP:53)', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    runNode(n1, clientFrags().map((frame) => ({ port: POD, frame })));
    const reply = udp(B1, N1.pod, 5353, 40000, pattern(3992, 9));
    const rf = fragments(reply, { src: B1, dst: N1.pod, id: 0x777, chunk: 1424 }).map((p) => eth(N1.podMac, B1_MAC, 0x0800, p));
    const r = runNode(n1, rf.map((frame) => ({ port: B1_PORT, frame })));
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ frags_queued: 2, frags_reassembled: 1, service_undnat: 1 });
    expect(r.tx.map((t) => t.port)).toEqual([POD, POD, POD]);
    const views = r.tx.map((t) => ipAt4(t.frame, 14));
    for (const v of views) expect([v.src, v.dst, v.id, v.ttl]).toEqual([VIP, N1.pod, 0x777, 64]); // bridged: no TTL change
    const { l4 } = reassemble(views);
    expect(udpOk(l4, VIP, N1.pod)).toEqual({ sport: 53, dport: 40000, len: 4000, csumOk: true });
  });

  it('a backend on another node (VXLAN): fragments DNATed at the client\'s node; the reply\'s fragments un-DNATed there', () => {
    const [n1, n2] = serviceNodes({ ip: N2.pod, port: 5353 });
    const r1 = runNode(n1, clientFrags().map((frame) => ({ port: POD, frame })));
    expect(r1.drops).toEqual({});
    expect(r1.tx.every((t) => t.port === UL)).toBe(true);
    const delivered: IpView[] = [];
    for (const t of r1.tx) {
      const inner = ipAt4(t.frame, INNER_IP.vxlan);
      expect(inner.total + 50, 'each encapsulated fragment fits the underlay').toBeLessThanOrEqual(1500);
      const h = handOver(n2, t);
      expect(h.drops).toEqual({});
      delivered.push(...h.tx.map((x) => ipAt4(x.frame, 14)));
    }
    expect(udpOk(reassemble(delivered).l4, N1.pod, N2.pod)).toMatchObject({ dport: 5353, csumOk: true });
    // node 2 forwards the reply's fragments untouched (nothing to translate there)
    const reply = udp(N2.pod, N1.pod, 5353, 40000, pattern(3992, 3));
    const rf = fragments(reply, { src: N2.pod, dst: N1.pod, id: 0x99, chunk: 1424 }).map((p) => toGw(N2, p));
    const r2 = runNode(n2, rf.map((frame) => ({ port: POD, frame })));
    expect(r2.drops).toEqual({});
    const back: IpView[] = [];
    const ev: NodeResult['events'][] = [];
    for (const t of r2.tx) {
      const h = handOver(n1, t);
      expect(h.drops).toEqual({});
      ev.push(h.events);
      back.push(...h.tx.map((x) => { expect(x.port).toBe(POD); return ipAt4(x.frame, 14); }));
    }
    expect(ev.reduce((s, e) => s + (e.frags_queued ?? 0), 0)).toBe(2);
    expect(ev.reduce((s, e) => s + (e.service_undnat ?? 0), 0)).toBe(1);
    const { l4 } = reassemble(back);
    for (const v of back) expect(v.src).toBe(VIP);
    expect(udpOk(l4, VIP, N1.pod)).toEqual({ sport: 53, dport: 40000, len: 4000, csumOk: true });
    expect(l4.subarray(8)).toEqual(pattern(3992, 3));
  });

  it('DF on every fragment (the sender fragmented locally with DF): the refragmented train keeps DF', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    const frags = fragments(clientDatagram(), { src: N1.pod, dst: VIP, id: 5, chunk: 1424, df: true }).map((p) => toGw(N1, p));
    const r = runNode(n1, frags.map((frame) => ({ port: POD, frame })));
    expect(r.drops).toEqual({});
    const views = r.tx.map((t) => ipAt4(t.frame, 14));
    expect(views.every((v) => v.df)).toBe(true);
    reassemble(views);
  });

  it('DF fragments larger than the next hop (a local pod port of MTU 1000): fragmentation needed with MTU 1000, no reassembled packet sent', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    n1.attachPort(B1_PORT, 1000);
    const frags = fragments(clientDatagram(), { src: N1.pod, dst: VIP, id: 6, chunk: 1424, df: true }).map((p) => toGw(N1, p));
    const r = runNode(n1, frags.map((frame) => ({ port: POD, frame })));
    expect(r.drops).toEqual({ frag_needed: 1 });
    expect(r.tx).toHaveLength(1);
    const icmp = ipAt4(r.tx[0].frame, 14);
    expect([r.tx[0].port, icmp.proto, icmp.dst, icmp.payload[0], icmp.payload[1], rd16(icmp.payload, 6)]).toEqual([POD, 1, N1.pod, 3, 4, 1000]);
    // the quoted header is the client's, before translation
    expect(ipAt4(icmp.payload, 8).dst).toBe(VIP);
  });

  it('no DF, larger than a local pod port of MTU 1000: refragmented at min(MTU, largest fragment)', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    n1.attachPort(B1_PORT, 1000);
    const r = runNode(n1, clientFrags().map((frame) => ({ port: POD, frame })));
    expect(r.drops).toEqual({});
    const views = r.tx.map((t) => ipAt4(t.frame, 14));
    for (const v of views) expect(v.total).toBeLessThanOrEqual(1000);
    expect(udpOk(reassemble(views).l4, N1.pod, B1).csumOk).toBe(true);
  });
});

describe('reassembly limits: bounded buffers, timeout, counted drops', () => {
  it('overlapping fragments: the fragment is dropped (frag_overlap) and its whole queue discarded (RFC 5722, Linux since 4.19)', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    const l4 = clientDatagram();
    const a = ip4({ src: N1.pod, dst: VIP, proto: 17, id: 9, mf: true, offset: 0, payload: l4.subarray(0, 1424) });
    const b = ip4({ src: N1.pod, dst: VIP, proto: 17, id: 9, mf: true, offset: 1416, payload: l4.subarray(1416, 2840) });
    const last = ip4({ src: N1.pod, dst: VIP, proto: 17, id: 9, offset: 2840, payload: l4.subarray(2840) });
    let r = runNode(n1, [a, b].map((p) => ({ port: POD, frame: toGw(N1, p) })));
    expect(r.drops).toEqual({ frag_overlap: 1 });
    expect(r.events).toMatchObject({ frags_queued: 1, frag_queues_discarded: 1 });
    // the queue is gone: the last fragment starts a new one, nothing is sent
    r = runNode(n1, [{ port: POD, frame: toGw(N1, last) }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(0);
    expect(r.events).toMatchObject({ frags_queued: 1 });
  });

  it('a fragment reaching past 65535 bytes: frag_too_big', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 });
    const p = ip4({ src: N1.pod, dst: VIP, proto: 17, id: 10, offset: 65528, payload: pattern(16) });
    const r = runNode(n1, [{ port: POD, frame: toGw(N1, p) }]);
    expect(r.drops).toEqual({ frag_too_big: 1 });
    expect(r.tx).toHaveLength(0);
  });

  it('all buffers held: the next datagram\'s fragment is dropped (frag_no_buffer); after 30 s (ipfrag_time) the queues expire and free them', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 }, { fragBuffers: 2 });
    n1.setClock(1000);
    const first = (id: number) => ({ port: POD, frame: clientFrags(id)[0] });
    let r = runNode(n1, [first(1), first(2), first(3)]);
    expect(r.drops).toEqual({ frag_no_buffer: 1 });
    expect(r.events).toMatchObject({ frags_queued: 2 });
    n1.setClock(1000 + 29_999);
    expect(runNode(n1, [first(4)]).drops).toEqual({ frag_no_buffer: 1 });
    n1.setClock(1000 + 30_000);
    r = runNode(n1, [first(4)]);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ frags_queued: 1, frag_timeouts: 2 });
    // datagram 1's later fragments find no queue (it expired): held again, never completed
    const rest = clientFrags(1).slice(1).map((frame) => ({ port: POD, frame }));
    r = runNode(n1, rest);
    expect(r.tx).toHaveLength(0);
  });

  it('fragments with nothing to translate (no Service, no flow) pass untouched, as before', () => {
    const [n1, n2] = twoNodes('vxlan');
    const l4 = udp(N1.pod, N2.pod, 1, 2, pattern(3000));
    const frags = fragments(l4, { src: N1.pod, dst: N2.pod, id: 3, chunk: 1424 });
    const r = runNode(n1, frags.map((p) => ({ port: POD, frame: toGw(N1, p) })));
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(3);
    expect(r.events.frags_queued ?? 0).toBe(0);
    void n2;
  });

  it('every frame is sent, dropped, or held (frags_queued): exactly one, one frame at a time', () => {
    const [n1] = serviceNodes({ ip: B1, port: 5353 }, { fragBuffers: 3 });
    const l4 = clientDatagram();
    let seed = 1;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    for (let i = 0; i < 400; i++) {
      const id = rnd(5);
      const off = rnd(8) * 512;
      const len = 8 * (1 + rnd(100));
      const end = Math.min(off + len, l4.length);
      const p = ip4({ src: N1.pod, dst: VIP, proto: 17, id, offset: off, mf: end < l4.length || rnd(2) === 0, payload: l4.subarray(off, end) });
      n1.setClock(i * 500);
      const r = runNode(n1, [{ port: POD, frame: toGw(N1, p) }]);
      const held = r.events.frags_queued ?? 0;
      // a drop may come with a generated ICMP error on the tx list: that frame was still dropped
      const outcomes = r.dropTotal + held + (r.dropTotal === 0 && r.tx.length > 0 ? 1 : 0);
      expect(outcomes, `frame ${i}: ${JSON.stringify({ tx: r.tx.length, drops: r.drops, held })}`).toBe(1);
    }
  });
});

