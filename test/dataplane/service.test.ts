// The Service NAT stage (assembly/stages/service_nat.ts) on two overlay nodes
// (overlay-kit): a client pod on node 1 connects to a Service VIP; node 1
// DNATs to a backend on its own bridge or on node 2 (through VXLAN), and
// un-DNATs the replies back to the VIP, found by conntrack. Checksums are
// checked with the independent JS reference (test/util.ts refChecksum).
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import {
  twoNodes, runNode, handOver, podFrame, ip4, ipAt4, pseudo, arpRequest, tcpPartial, pattern, vnetFields, rd16, udp,
  N1, N2, POD, UL, INNER_IP, type Sent,
} from './overlay-kit.ts';
import { refChecksum } from '../util.ts';

const VIP = '10.96.0.10';
const B1 = '10.244.0.3', B1_MAC = '0a:58:0a:f4:00:03', B1_PORT = 1; // a backend pod on node 1
const SYN = 0x02, ACK = 0x10, PSH = 0x08;
const TCP = 6, UDP = 17;

const cat = (...parts: Uint8Array[]) => {
  const b = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { b.set(p, o); o += p.length; }
  return b;
};

/** A TCP segment (20-byte header) with a correct checksum for src -> dst. */
function tcpSeg(src: string, dst: string, sport: number, dport: number, flags: number, payload = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, 0x01000000);
  v.setUint32(8, flags & ACK ? 0x02000000 : 0);
  b[12] = 5 << 4;
  b[13] = flags;
  v.setUint16(14, 64240);
  b.set(payload, 20);
  v.setUint16(16, refChecksum(cat(pseudo(src, dst, TCP, b.length), b)));
  return b;
}

/** The IPv4 packet at `at`: addresses, ports, and whether both checksums verify. */
function l4At(frame: Uint8Array, at: number) {
  const v = ipAt4(frame, at);
  const p = v.payload;
  const csumOff = v.proto === TCP ? 16 : 6;
  const csum = rd16(p, csumOff);
  const l4Ok = v.proto === UDP && csum === 0 ? true : refChecksum(cat(pseudo(v.src, v.dst, v.proto, p.length), p)) === 0;
  return { src: v.src, dst: v.dst, sport: rd16(p, 0), dport: rd16(p, 2), proto: v.proto, headerOk: v.headerOk, l4Ok, csum, ttl: v.ttl };
}

/** Nodes 1 and 2 (VXLAN); node 1 also has backend pod B1 on port 1, already heard from. */
function setup(): [Dataplane, Dataplane] {
  const [n1, n2] = twoNodes('vxlan');
  n1.attachPort(B1_PORT, 1450);
  n1.setNeighbor(B1, B1_MAC);
  expect(runNode(n1, [{ port: B1_PORT, frame: arpRequest(B1_MAC, B1, N1.gw) }]).tx).toHaveLength(1);
  n1.setServiceSeed(42);
  return [n1, n2];
}

const clientSyn = (sport: number, flags = SYN) => podFrame(N1, { dst: VIP, proto: TCP, payload: tcpSeg(N1.pod, VIP, sport, 80, flags) });
/** Node 1 sends a client packet; the one frame it produces. */
function send(n1: Dataplane, frame: Uint8Array, vnet?: Uint8Array) {
  const r = runNode(n1, [{ port: POD, frame, vnet }]);
  expect(r.drops).toEqual({});
  expect(r.tx).toHaveLength(1);
  return { r, t: r.tx[0] };
}

describe('Service NAT: TCP to a VIP', () => {
  it('backend on node 1: SYN DNATed onto the bridge; SYN-ACK un-DNATed to the VIP; checksums valid', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const { r, t } = send(n1, clientSyn(40000));
    expect(t.port).toBe(B1_PORT);
    const p = l4At(t.frame, 14);
    expect(p).toMatchObject({ src: N1.pod, dst: B1, sport: 40000, dport: 8080, headerOk: true, l4Ok: true, ttl: 63 });
    expect(r.events).toMatchObject({ service_dnat: 1, conntrack_miss: 1, conntrack_created: 1, routed: 1 });
    expect(n1.conntrack(0)).toEqual([expect.objectContaining({
      proto: TCP, state: 'syn_sent',
      orig: { src: N1.pod, dst: VIP, sport: 40000, dport: 80 }, reply: { src: B1, dst: N1.pod, sport: 8080, dport: 40000 },
    })]);

    const reply = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.pod, proto: TCP, payload: tcpSeg(B1, N1.pod, 8080, 40000, SYN | ACK) }));
    const r2 = runNode(n1, [{ port: B1_PORT, frame: reply }]);
    expect(r2.tx).toHaveLength(1);
    expect(r2.tx[0].port).toBe(POD);
    expect(l4At(r2.tx[0].frame, 14)).toMatchObject({ src: VIP, dst: N1.pod, sport: 80, dport: 40000, headerOk: true, l4Ok: true });
    expect(r2.events).toMatchObject({ service_undnat: 1, conntrack_hit: 1 });
    expect(n1.conntrack(0)[0].state).toBe('syn_recv');

    // the handshake's last ACK: same backend, state established
    const { t: t3 } = send(n1, clientSyn(40000, ACK));
    expect(l4At(t3.frame, 14)).toMatchObject({ dst: B1, dport: 8080, l4Ok: true });
    expect(n1.conntrack(0)[0]).toMatchObject({ state: 'established', assured: true });
  });

  it('backend on node 2: DNATed, through VXLAN, delivered; the reply comes back through node 1 and is un-DNATed there', () => {
    const [n1, n2] = setup();
    n1.addService(VIP, 80, 'tcp', [{ ip: N2.pod, port: 8080 }]);
    const { t } = send(n1, clientSyn(40001));
    expect(t.port).toBe(UL);
    expect(l4At(t.frame, INNER_IP.vxlan)).toMatchObject({ src: N1.pod, dst: N2.pod, dport: 8080, headerOk: true, l4Ok: true });
    const d = handOver(n2, t);
    expect(d.tx).toHaveLength(1);
    expect(d.tx[0].port).toBe(POD);
    expect(l4At(d.tx[0].frame, 14)).toMatchObject({ src: N1.pod, dst: N2.pod, sport: 40001, dport: 8080, headerOk: true, l4Ok: true });
    expect(d.events.service_dnat ?? 0).toBe(0); // node 2 only routes it

    // backend replies to the client: node 2 routes it untouched, node 1 un-DNATs after decapsulation
    const back = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N1.pod, proto: TCP, payload: tcpSeg(N2.pod, N1.pod, 8080, 40001, SYN | ACK) }) }]);
    expect(back.tx).toHaveLength(1);
    expect(back.tx[0].port).toBe(UL);
    expect(l4At(back.tx[0].frame, INNER_IP.vxlan)).toMatchObject({ src: N2.pod, sport: 8080 });
    const r = handOver(n1, back.tx[0]);
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(POD);
    expect(l4At(r.tx[0].frame, 14)).toMatchObject({ src: VIP, dst: N1.pod, sport: 80, dport: 40001, headerOk: true, l4Ok: true });
    expect(r.events).toMatchObject({ vxlan_decap: 1, service_undnat: 1, conntrack_hit: 1 });
  });

  it('partial checksum (NEEDS_CSUM): the pseudo-header sum follows the address; completed afterwards it is valid', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const vnet = new Uint8Array(10);
    const dv = new DataView(vnet.buffer);
    vnet[0] = 1; // NEEDS_CSUM
    dv.setUint16(6, 34, true);
    dv.setUint16(8, 16, true);
    /** Complete the partial checksum as the receiving kernel would (sum from csum_start, complement). */
    const finish = (s: Sent) => {
      const f = s.frame.slice();
      const v = vnetFields(s.vnet);
      expect(v).toMatchObject({ flags: 1, csumStart: 34, csumOffset: 16 });
      const c = refChecksum(f.subarray(34));
      f[50] = c >> 8; f[51] = c & 0xff;
      return f;
    };
    const payload = pattern(100);
    const { t } = send(n1, podFrame(N1, { dst: VIP, proto: TCP, payload: tcpPartial(N1.pod, VIP, 40002, 80, payload) }), vnet);
    expect(t.port).toBe(B1_PORT);
    expect(l4At(t.frame, 14).l4Ok).toBe(false); // still partial
    expect(l4At(finish(t), 14)).toMatchObject({ dst: B1, dport: 8080, headerOk: true, l4Ok: true });

    const reply = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.pod, proto: TCP, payload: tcpPartial(B1, N1.pod, 8080, 40002, payload) }));
    const r = runNode(n1, [{ port: B1_PORT, frame: reply, vnet }]);
    expect(r.tx).toHaveLength(1);
    expect(l4At(finish(r.tx[0]), 14)).toMatchObject({ src: VIP, sport: 80, dst: N1.pod, headerOk: true, l4Ok: true });
    expect(r.events).toMatchObject({ service_undnat: 1 });
  });

  it('a flow keeps its backend, also when the Service\'s backends are replaced', () => {
    const [n1] = setup();
    const backends = [{ ip: '10.244.1.2', port: 8080 }, { ip: '10.244.1.3', port: 8080 }, { ip: '10.244.1.4', port: 8080 }];
    n1.addService(VIP, 80, 'tcp', backends);
    const dst = (f: Uint8Array) => l4At(f, INNER_IP.vxlan).dst;
    const first = dst(send(n1, clientSyn(41000)).t.frame);
    for (const flags of [ACK, ACK | PSH, ACK]) expect(dst(send(n1, clientSyn(41000, flags)).t.frame)).toBe(first);
    // replace: drop one of the others, the flow is untouched
    const others = backends.filter((b) => b.ip !== first);
    n1.addService(VIP, 80, 'tcp', [backends.find((b) => b.ip === first)!, others[0]]);
    expect(n1.serviceBackendCount(VIP, 80, 'tcp')).toBe(2);
    expect(dst(send(n1, clientSyn(41000, ACK)).t.frame)).toBe(first);
    // new flows only go to the remaining two
    for (let p = 42000; p < 42050; p++) expect([first, others[0].ip]).toContain(dst(send(n1, clientSyn(p)).t.frame));
    expect(n1.ctCount()).toBe(51);
  });

  it('1000 client ports spread over 3 backends; the same seed chooses the same ones', () => {
    const spread = (seed: number) => {
      const [n1] = setup();
      n1.setServiceSeed(seed);
      n1.addService(VIP, 80, 'tcp', [{ ip: '10.244.1.2', port: 8080 }, { ip: '10.244.1.3', port: 8080 }, { ip: '10.244.1.4', port: 8080 }]);
      const picks: string[] = [];
      for (let p = 0; p < 1000; p++) picks.push(l4At(send(n1, clientSyn(20000 + p)).t.frame, INNER_IP.vxlan).dst);
      expect(n1.counters().events).toMatchObject({ service_dnat: 1000, conntrack_created: 1000 });
      return picks;
    };
    const a = spread(7);
    const counts = new Map<string, number>();
    for (const d of a) counts.set(d, (counts.get(d) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.4']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(250);
    expect(spread(7)).toEqual(a);
    expect(spread(8)).not.toEqual(a);
  });

  it('no endpoints: dropped, counted service_no_endpoints; removed Service: routed as any address (no route here)', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', []);
    const r = runNode(n1, [{ port: POD, frame: clientSyn(40003) }]);
    expect(r.tx).toEqual([]);
    expect(r.drops).toEqual({ service_no_endpoints: 1 });
    expect(n1.ctCount()).toBe(0);
    expect(n1.removeService(VIP, 80, 'tcp')).toBe(true);
    expect(n1.removeService(VIP, 80, 'tcp')).toBe(false);
    const r2 = runNode(n1, [{ port: POD, frame: clientSyn(40003) }]);
    expect(r2.drops).toEqual({ no_route: 1 });
  });

  it('traffic not for a Service passes untouched (pod to pod across nodes)', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const seg = tcpSeg(N1.pod, N2.pod, 40004, 80, SYN);
    const { r, t } = send(n1, podFrame(N1, { dst: N2.pod, proto: TCP, payload: seg }));
    expect(l4At(t.frame, INNER_IP.vxlan)).toMatchObject({ dst: N2.pod, dport: 80, l4Ok: true });
    expect(r.events.service_dnat ?? 0).toBe(0);
    expect(n1.ctCount()).toBe(0);
  });
});

describe('Service NAT: UDP', () => {
  it('DNAT to a backend on node 2 and un-DNAT of its reply; checksum 0 stays 0', () => {
    const [n1, n2] = setup();
    n1.addService(VIP, 53, 'udp', [{ ip: N2.pod, port: 5353 }]);
    for (const noCsum of [false, true]) {
      const sport = noCsum ? 33001 : 33000;
      const q = podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, sport, 53, pattern(33), noCsum) });
      const { t, r } = send(n1, q);
      expect(r.events).toMatchObject({ service_dnat: 1 });
      const inner = l4At(t.frame, INNER_IP.vxlan);
      expect(inner).toMatchObject({ dst: N2.pod, dport: 5353, headerOk: true, l4Ok: true });
      expect(inner.csum === 0).toBe(noCsum);
      const d = handOver(n2, t);
      expect(l4At(d.tx[0].frame, 14)).toMatchObject({ dst: N2.pod, dport: 5353, l4Ok: true });

      const back = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N1.pod, proto: UDP, payload: udp(N2.pod, N1.pod, 5353, sport, pattern(40, 1), noCsum) }) }]);
      const r2 = handOver(n1, back.tx[0]);
      expect(r2.tx).toHaveLength(1);
      const got = l4At(r2.tx[0].frame, 14);
      expect(got).toMatchObject({ src: VIP, sport: 53, dst: N1.pod, dport: sport, headerOk: true, l4Ok: true });
      expect(got.csum === 0).toBe(noCsum);
      expect(r2.events).toMatchObject({ service_undnat: 1 });
    }
    expect(n1.conntrack(0).map((e) => e.state)).toEqual(['replied', 'replied']);
  });
});
