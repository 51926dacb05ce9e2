// The Service NAT stage (assembly/stages/service_nat.ts) on two overlay nodes
// (overlay-kit): a client pod on node 1 connects to a Service VIP; node 1
// DNATs to a backend on its own bridge or on node 2 (through VXLAN), and
// un-DNATs the replies back to the VIP, found by conntrack. Checksums are
// checked with the independent JS reference (test/util.ts refChecksum).
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import {
  twoNodes, runNode, handOver, podFrame, ip4, ipAt4, pseudo, arpRequest, tcpPartial, pattern, vnetFields, rd16, rd32, udp, macAt, icmpMsg,
  N1, N2, POD, UL, INNER_IP, type Sent,
} from './overlay-kit.ts';
import { refChecksum } from '../util.ts';

import { VIP, B1, B1_MAC, B1_PORT, SYN, ACK, PSH, TCP, UDP, cat, tcpSeg, l4At, setup, clientSyn, send } from './service-kit.ts';

/** Backend `ip` (behind node 2) answers the client's SYN from port `sport`: through node 2, over VXLAN, un-DNATed on node 1. */
function synAck(n1: Dataplane, n2: Dataplane, ip: string, sport: number) {
  const back = runNode(n2, [{ port: POD, frame: podFrame(N2, { src: ip, dst: N1.pod, proto: TCP, payload: tcpSeg(ip, N1.pod, 8080, sport, SYN | ACK) }) }]);
  expect(back.tx).toHaveLength(1);
  expect(handOver(n1, back.tx[0]).events).toMatchObject({ service_undnat: 1 });
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
    const [n1, n2] = setup();
    const backends = [{ ip: '10.244.1.2', port: 8080 }, { ip: '10.244.1.3', port: 8080 }, { ip: '10.244.1.4', port: 8080 }];
    n1.addService(VIP, 80, 'tcp', backends);
    const dst = (f: Uint8Array) => l4At(f, INNER_IP.vxlan).dst;
    const first = dst(send(n1, clientSyn(41000)).t.frame);
    synAck(n1, n2, first, 41000);
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

  it('no endpoints: rejected with a reset from the VIP (RFC 793: seq 0, ACK of the SYN), counted; removed Service: routed as any address', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', []);
    const r = runNode(n1, [{ port: POD, frame: clientSyn(40003) }]);
    expect(r.drops).toEqual({ service_no_endpoints: 1 });
    expect(r.events).toMatchObject({ service_rejects: 1 });
    expect(r.tx).toHaveLength(1);
    const t = r.tx[0];
    expect(t.port).toBe(POD);
    expect(macAt(t.frame, 0)).toBe(N1.podMac);
    const p = l4At(t.frame, 14);
    expect(p).toMatchObject({ src: VIP, dst: N1.pod, sport: 80, dport: 40003, headerOk: true, l4Ok: true });
    const tcp = ipAt4(t.frame, 14).payload;
    expect(tcp[13]).toBe(0x04 | ACK); // RST, ACK
    expect(rd32(tcp, 4)).toBe(0);
    expect(rd32(tcp, 8)).toBe(0x01000001); // the SYN's sequence number + 1
    expect(n1.ctCount()).toBe(0);
    // a segment with ACK gets a bare reset with seq = its ack; a reset gets nothing
    const r3 = runNode(n1, [{ port: POD, frame: clientSyn(40003, ACK) }, { port: POD, frame: clientSyn(40003, 0x04) }]);
    expect(r3.tx).toHaveLength(1);
    const t3 = ipAt4(r3.tx[0].frame, 14).payload;
    expect(t3[13]).toBe(0x04);
    expect(rd32(t3, 4)).toBe(0x02000001);
    // a reset with no entry is conntrack INVALID (tcp_new): dropped as such, never rejected
    expect(r3.drops).toEqual({ service_no_endpoints: 1, ct_invalid: 1 });
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
    // a reply within 2 s of the first datagram: SEEN_REPLY, still the 30 s timeout (nf_conntrack_proto_udp.c stream_ts)
    expect(n1.conntrack(0).map((e) => [e.state, e.seenReply, e.assured])).toEqual([['unreplied', true, false], ['unreplied', true, false]]);
  });
});

// An outside client on the underlay (not a node): NodePort traffic to node 1's address
const EXT = '172.31.255.50', EXT_MAC = '0a:58:ac:1f:ff:32', EXT2 = '172.31.255.51', EXT2_MAC = '0a:58:ac:1f:ff:33';
const NODE_PORT = 30080;
/** Node 1 reaches the outside clients directly on the underlay (what its kernel's connected route and ARP give it). */
function withClients(n1: Dataplane) {
  for (const [ip, mac] of [[EXT, EXT_MAC], [EXT2, EXT2_MAC]]) {
    n1.addRoute(`${ip}/32`, 'host-gw', ip);
    n1.setNeighbor(ip, mac);
  }
}
const fromOutside = (src: string, srcMac: string, sport: number, payload?: Uint8Array) =>
  eth(N1.ulMac, srcMac, 0x0800, ip4({ src, dst: N1.ul, proto: TCP, payload: payload ?? tcpSeg(src, N1.ul, sport, NODE_PORT, SYN) }));

describe('Service NAT: masquerade, hairpin, NodePort', () => {
  it('hairpin: a backend reaching itself through its Service is masqueraded to the gateway; its reply returns as from the VIP', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const syn = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: VIP, proto: TCP, payload: tcpSeg(B1, VIP, 40010, 80, SYN) }));
    const r = runNode(n1, [{ port: B1_PORT, frame: syn }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(B1_PORT); // back out of the port it came in on: routed, not bridged
    expect(l4At(r.tx[0].frame, 14)).toMatchObject({ src: N1.gw, dst: B1, sport: 40010, dport: 8080, headerOk: true, l4Ok: true });
    expect(r.events).toMatchObject({ service_dnat: 1, service_snat: 1 });
    // the backend answers the gateway address: un-SNAT and un-DNAT, back to itself
    const ans = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.gw, proto: TCP, payload: tcpSeg(B1, N1.gw, 8080, 40010, SYN | ACK) }));
    const r2 = runNode(n1, [{ port: B1_PORT, frame: ans }]);
    expect(r2.drops).toEqual({});
    expect(r2.tx).toHaveLength(1);
    expect(l4At(r2.tx[0].frame, 14)).toMatchObject({ src: VIP, dst: B1, sport: 80, dport: 40010, headerOk: true, l4Ok: true });
    expect(r2.events).toMatchObject({ service_undnat: 1, service_unsnat: 1 });
    // anything else to the gateway address is still not forwarded
    const other = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.gw, proto: TCP, payload: tcpSeg(B1, N1.gw, 8080, 40011, ACK) }));
    expect(runNode(n1, [{ port: B1_PORT, frame: other }]).drops).toEqual({ gateway_unhandled: 1 });
  });

  it('NodePort from outside, externalTrafficPolicy Cluster: DNAT to node 2 + masquerade to the gateway; the reply goes back out to the client', () => {
    const [n1, n2] = setup();
    withClients(n1);
    n1.addService(N1.ul, NODE_PORT, 'tcp', [{ ip: N2.pod, port: 8080 }], { masquerade: true });
    const r = runNode(n1, [{ port: UL, frame: fromOutside(EXT, EXT_MAC, 50000) }]);
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].port).toBe(UL);
    expect(l4At(r.tx[0].frame, INNER_IP.vxlan)).toMatchObject({ src: N1.gw, dst: N2.pod, sport: 50000, dport: 8080, headerOk: true, l4Ok: true });
    const d = handOver(n2, r.tx[0]);
    expect(d.tx[0].port).toBe(POD);
    // node 2's pod answers node 1's gateway address: routed back over VXLAN, translated on node 1
    const back = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N1.gw, proto: TCP, payload: tcpSeg(N2.pod, N1.gw, 8080, 50000, SYN | ACK) }) }]);
    expect(back.tx[0].port).toBe(UL);
    const r2 = handOver(n1, back.tx[0]);
    expect(r2.drops).toEqual({});
    expect(r2.tx).toHaveLength(1);
    expect(r2.tx[0].port).toBe(UL);
    expect(macAt(r2.tx[0].frame, 0)).toBe(EXT_MAC);
    expect(l4At(r2.tx[0].frame, 14)).toMatchObject({ src: N1.ul, dst: EXT, sport: NODE_PORT, dport: 50000, headerOk: true, l4Ok: true });
    // not a NodePort: still not forwarded
    const stray = eth(N1.ulMac, EXT_MAC, 0x0800, ip4({ src: EXT, dst: N1.ul, proto: TCP, payload: tcpSeg(EXT, N1.ul, 50001, 22, SYN) }));
    expect(runNode(n1, [{ port: UL, frame: stray }]).drops).toEqual({ underlay_unhandled: 1 });
  });

  it('NodePort, externalTrafficPolicy Local: the client address is kept; no local endpoint: dropped, not rejected', () => {
    const [n1] = setup();
    withClients(n1);
    n1.addService(N1.ul, NODE_PORT, 'tcp', [{ ip: B1, port: 8080 }]);
    const r = runNode(n1, [{ port: UL, frame: fromOutside(EXT, EXT_MAC, 50002) }]);
    expect(r.tx[0].port).toBe(B1_PORT);
    expect(l4At(r.tx[0].frame, 14)).toMatchObject({ src: EXT, dst: B1, sport: 50002, dport: 8080, l4Ok: true });
    const ans = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: EXT, proto: TCP, payload: tcpSeg(B1, EXT, 8080, 50002, SYN | ACK) }));
    const r2 = runNode(n1, [{ port: B1_PORT, frame: ans }]);
    expect(r2.tx[0].port).toBe(UL);
    expect(l4At(r2.tx[0].frame, 14)).toMatchObject({ src: N1.ul, dst: EXT, sport: NODE_PORT, dport: 50002, l4Ok: true });
    n1.addService(N1.ul, NODE_PORT, 'tcp', [], { dropWhenEmpty: true });
    const r3 = runNode(n1, [{ port: UL, frame: fromOutside(EXT, EXT_MAC, 50003) }]);
    expect(r3.drops).toEqual({ service_no_local_endpoints: 1 });
    expect(r3.tx).toEqual([]);
  });

  it('masquerade port clash: two clients with the same source port to the same backend get distinct ports; each reply finds its client', () => {
    const [n1] = setup();
    withClients(n1);
    n1.addService(N1.ul, NODE_PORT, 'tcp', [{ ip: B1, port: 8080 }], { masquerade: true });
    const ports: number[] = [];
    for (const [ip, mac] of [[EXT, EXT_MAC], [EXT2, EXT2_MAC]]) {
      const r = runNode(n1, [{ port: UL, frame: fromOutside(ip, mac, 50004) }]);
      expect(r.drops).toEqual({});
      const p = l4At(r.tx[0].frame, 14);
      expect(p).toMatchObject({ src: N1.gw, dst: B1, l4Ok: true });
      ports.push(p.sport);
    }
    expect(ports[0]).toBe(50004);
    expect(ports[1]).not.toBe(50004);
    for (const [i, [ip, mac]] of [[EXT, EXT_MAC], [EXT2, EXT2_MAC]].entries()) {
      const ans = eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.gw, proto: TCP, payload: tcpSeg(B1, N1.gw, 8080, ports[i], SYN | ACK) }));
      const r = runNode(n1, [{ port: B1_PORT, frame: ans }]);
      expect(macAt(r.tx[0].frame, 0)).toBe(mac);
      expect(l4At(r.tx[0].frame, 14)).toMatchObject({ src: N1.ul, sport: NODE_PORT, dst: ip, dport: 50004, l4Ok: true });
    }
  });
});

describe('Service NAT: ClientIP affinity', () => {
  const backends = [{ ip: B1, port: 8080 }, { ip: N2.pod, port: 8080 }, { ip: '10.244.1.3', port: 8080 }];
  let now = 0;
  const at = (n1: Dataplane, ms: number) => { now = ms; n1.setClock(ms); };
  const backendOf = (n1: Dataplane, sport: number) => {
    const r = runNode(n1, [{ port: POD, frame: clientSyn(sport) }]);
    expect(r.drops).toEqual({});
    return n1.conntrack(now).find((e) => e.orig.sport === sport)!.reply.src;
  };

  it('sticks to one backend for the timeout, refreshed by each new connection; after it, a fresh choice', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', backends, { affinitySeconds: 10 });
    at(n1, 1000);
    const first = backendOf(n1, 41000);
    for (let i = 1; i < 30; i++) {
      at(n1, 1000 + i * 5000); // each 5 s later: within 10 s of the previous one
      expect(backendOf(n1, 41000 + i)).toBe(first);
    }
    expect(n1.counters().events.affinity_hits).toBe(29);
    // without affinity the same 30 connections spread (sanity check of the seed)
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) { at(n1, 1_000_000 + i * 20_000); seen.add(backendOf(n1, 42000 + i)); } // each 20 s apart: expired
    expect(seen.size).toBeGreaterThan(1);
    expect(n1.counters().events.affinity_hits).toBe(29);
  });

  it('a remembered backend that left the Service is not used: a fresh choice among the rest', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', backends, { affinitySeconds: 10 });
    at(n1, 0);
    const first = backendOf(n1, 43000);
    const rest = backends.filter((b) => b.ip !== first);
    n1.addService(VIP, 80, 'tcp', rest, { affinitySeconds: 10 });
    const next = backendOf(n1, 43001);
    expect(rest.map((b) => b.ip)).toContain(next);
    expect(backendOf(n1, 43002)).toBe(next); // and that one sticks now
  });
});

describe('Service NAT: ICMP errors about translated flows', () => {
  it('a backend\'s port unreachable reaches the client quoting the VIP, from the VIP; checksums valid', () => {
    const [n1, n2] = setup();
    n1.addService(VIP, 53, 'udp', [{ ip: N2.pod, port: 5353 }]);
    const q = podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, 33100, 53, pattern(20)) });
    const { t } = send(n1, q);
    const delivered = handOver(n2, t).tx[0];
    const seen = delivered.frame.subarray(14); // the datagram as the backend got it
    const err = podFrame(N2, { dst: N1.pod, proto: 1, payload: icmpMsg(3, 3, 0, seen.subarray(0, 28)) });
    const back = runNode(n2, [{ port: POD, frame: err }]);
    const r = handOver(n1, back.tx[0]);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ service_icmp_related: 1 });
    const outer = ipAt4(r.tx[0].frame, 14);
    expect(outer).toMatchObject({ src: VIP, dst: N1.pod, proto: 1, headerOk: true });
    expect(refChecksum(outer.payload)).toBe(0);
    const inner = ipAt4(outer.payload, 8);
    expect(inner).toMatchObject({ src: N1.pod, dst: VIP, headerOk: true });
    expect([rd16(inner.payload, 0), rd16(inner.payload, 2)]).toEqual([33100, 53]);
    // the quoted IP header and UDP header (checksum included) are exactly what the client sent
    const sent = q.subarray(14);
    expect(outer.payload.subarray(8 + 12, 8 + 28)).toEqual(sent.subarray(12, 28)); // addresses and UDP header (the TTL went down on the way)
    expect(seen.subarray(20, 28)).not.toEqual(sent.subarray(20, 28));
  });

  it('podwire\'s own fragmentation-needed about a DNATed packet quotes it as the client sent it', () => {
    const [n1] = setup();
    n1.addService(VIP, 80, 'tcp', [{ ip: N2.pod, port: 8080 }]);
    const big = podFrame(N1, { dst: VIP, proto: TCP, df: true, payload: tcpSeg(N1.pod, VIP, 40020, 80, SYN, pattern(1440)) });
    const r = runNode(n1, [{ port: POD, frame: big }]);
    expect(r.drops).toEqual({ frag_needed: 1 });
    expect(r.tx).toHaveLength(1);
    const outer = ipAt4(r.tx[0].frame, 14);
    expect(outer).toMatchObject({ src: N1.gw, dst: N1.pod, proto: 1, headerOk: true });
    expect([outer.payload[0], outer.payload[1]]).toEqual([3, 4]);
    expect(refChecksum(outer.payload)).toBe(0);
    const inner = ipAt4(outer.payload, 8);
    expect(inner).toMatchObject({ src: N1.pod, dst: VIP, headerOk: true });
    expect([rd16(inner.payload, 0), rd16(inner.payload, 2)]).toEqual([40020, 80]);
  });
});

describe('batched conntrack prefetch (stages/flow_prefetch.ts)', () => {
  it('with 20,000 tracked flows, a batch (odd frames included) gives the same output with the pass on and off', () => {
    const outputs = [true, false].map((on) => {
      const [n1] = setup();
      n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
      for (let p = 0; p < 20_000; p++) {
        const sport = 10_000 + p;
        expect(n1.ctCreate(TCP, { src: N1.pod, dst: VIP, sport, dport: 80 }, 0, { src: B1, dst: N1.pod, sport: 8080, dport: sport })).toBeGreaterThanOrEqual(0);
      }
      n1.ex.setFlowPrefetch(on ? 1 : 0);
      // retransmitted SYNs: the entries are in SYN_SENT (a client ACK there would be INVALID)
      const acks = Array.from({ length: 40 }, (_, i) => ({ port: POD, frame: clientSyn(10_000 + i * 487) }));
      const odd = [
        { port: POD, frame: clientSyn(10_001, ACK).subarray(0, 40) },                       // truncated in the IP header
        { port: POD, frame: podFrame(N1, { dst: VIP, proto: TCP, mf: true, payload: tcpSeg(N1.pod, VIP, 10_002, 80, ACK) }) }, // a fragment
        { port: POD, frame: podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, 10_003, 80, pattern(8)) }) },
      ];
      const frames = [...acks, ...odd];
      const out = { tx: [] as string[], drops: [] as Record<string, number>[], dnat: 0 };
      for (let i = 0; i < frames.length; i += 8) { // the nodes' batch size
        const r = runNode(n1, frames.slice(i, i + 8));
        out.tx.push(...r.tx.map((t) => Array.from(t.frame).join(',')));
        out.drops.push(r.drops);
        out.dnat += r.events.service_dnat ?? 0;
      }
      return out;
    });
    expect(outputs[0].dnat).toBe(40);
    expect(outputs[0]).toEqual(outputs[1]);
  });
});
