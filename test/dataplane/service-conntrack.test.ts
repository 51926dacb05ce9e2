// Conntrack semantics of Service flows, frame by frame through node 1 (issue
// 11 items 1, 4, 5), against what Linux's nf_conntrack does for kube-proxy:
//  - nf_conntrack_proto_tcp.c: tcp_conntracks[][][] (transitions; sIV =
//    INVALID, which kube-proxy's `ct state invalid drop` drops), tcp_new
//    (only SYN, or ACK with nf_conntrack_tcp_loose=1, may begin a flow),
//    tcp_packet (a SYN in TIME_WAIT, or in CLOSE after a FIN or after an RST
//    from the same side, kills the entry and is looked up afresh; RST
//    acceptance: seq before the receiver's max ack is invalid, an in-window
//    RST whose seq is not exactly that ack keeps ESTABLISHED), tcp_in_window
//    (I-IV bounds from td_end / td_maxend / td_maxwin, window scale);
//  - nf_conntrack_proto_udp.c: stream_ts = first packet + 2 s; a reply
//    seen before it refreshes with the 30 s timeout, a packet after it (with
//    a reply seen) with the 120 s stream timeout and sets ASSURED.
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import { runNode, podFrame, ip4, udp, N1, POD } from './overlay-kit.ts';
import { VIP, B1, B1_MAC, B1_PORT, UDP } from './service-kit.ts';
import { FIN, SYN, RST, PSH, ACK, B2, node, conn } from './ct-kit.ts';

// client ISN 1000, server ISN 5000: the handshake, both at sequence + 1 after it
function established(n1: Dataplane, sport: number, b = B1) {
  const k = conn(n1, sport);
  expect(k.c(SYN, 1000, 0).tx).toMatchObject({ dst: b, dport: 8080 });
  expect(k.s(b, SYN | ACK, 5000, 1001).tx).toMatchObject({ src: VIP, sport: 80 });
  expect(k.c(ACK, 1001, 5001).tx).toMatchObject({ dst: b });
  expect(k.state()).toBe('established');
  return k;
}

describe('conntrack: a reused TCP tuple after a backend left (issue 11 item 1)', () => {
  it('SYN on a TIME_WAIT entry: the entry is deleted and the SYN looked up afresh, so it reaches a live backend', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const k = established(n1, 40000);
    k.c(FIN | ACK, 1001, 5001);
    k.s(B1, ACK, 5001, 1002);
    k.s(B1, FIN | ACK, 5001, 1002);
    expect(k.c(ACK, 1002, 5002).n).toBe(1);
    expect(k.state()).toBe('time_wait');
    n1.addService(VIP, 80, 'tcp', [{ ip: B2, port: 8080 }]); // scale-down: B1 leaves, TCP entries stay (as kube-proxy)
    const r = k.c(SYN, 900_000, 0); // the client reuses its port within the 120 s TIME_WAIT timeout
    expect(r.tx).toMatchObject({ dst: B2, dport: 8080, l4Ok: true });
    expect(r.events).toMatchObject({ conntrack_deleted: 1, conntrack_created: 1 });
    expect(n1.conntrack(0)).toEqual([expect.objectContaining({ state: 'syn_sent', reply: { src: B2, dst: N1.pod, sport: 8080, dport: 40000 } })]);
  });

  it('SYN on a CLOSE entry the client reset: deleted, fresh backend; after the server\'s reset the SYN is ignored (Linux: passes on the old entry)', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const k = established(n1, 40001);
    expect(k.c(RST, 1001, 0).n).toBe(1); // exactly the server's ack: accepted
    expect(k.state()).toBe('close');
    n1.addService(VIP, 80, 'tcp', [{ ip: B2, port: 8080 }]);
    expect(k.c(SYN, 700_000, 0).tx).toMatchObject({ dst: B2 });
    expect(k.state()).toBe('syn_sent');

    const j = established(n1, 40002, B2);
    expect(j.s(B2, RST, 5001, 0).n).toBe(1);
    expect(j.state()).toBe('close');
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    // tcp_packet: no FIN was seen and the RST came from the other side: sIG, no state change
    expect(j.c(SYN, 800_000, 0).tx).toMatchObject({ dst: B2 });
    expect(j.state()).toBe('close');
  });
});

describe('conntrack: TCP without an entry, RST acceptance, window (issue 11 item 5)', () => {
  it('FIN-first, RST-first, SYN+ACK-first and flagless segments to a Service are INVALID: dropped ct_invalid, no entry; ACK-first is picked up ESTABLISHED', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    let sport = 41000;
    for (const flags of [FIN | ACK, FIN, RST, RST | ACK, SYN | ACK, 0, SYN | FIN, SYN | RST]) {
      const r = conn(n1, sport++).c(flags, 1000, flags & ACK ? 5000 : 0);
      expect(r.drops, `flags ${flags}`).toEqual({ ct_invalid: 1 });
      expect(r.n).toBe(0);
    }
    expect(n1.ctCount()).toBe(0);
    const k = conn(n1, sport);
    expect(k.c(ACK | PSH, 1000, 5000, { len: 10 }).tx).toMatchObject({ dst: B1, dport: 8080 });
    // no reply yet: ESTABLISHED, but with the unacknowledged timeout, not 5 days
    expect(n1.conntrack(0)).toEqual([expect.objectContaining({ state: 'established', assured: false, timeoutMs: 300_000 })]);
    // the first answer is handled before SEEN_REPLY is set: still capped; the next packet is assured, 5 days
    expect(k.s(B1, ACK, 5000, 1010).n).toBe(1);
    expect(n1.conntrack(0)).toEqual([expect.objectContaining({ state: 'established', seenReply: true, timeoutMs: 300_000 })]);
    expect(k.c(ACK, 1010, 5000).n).toBe(1);
    expect(n1.conntrack(0)).toEqual([expect.objectContaining({ state: 'established', assured: true, timeoutMs: 432_000_000 })]);
  });

  it('a blind RST far outside the window is dropped and the flow stays; an in-window RST that is not exactly at the ack keeps it ESTABLISHED; the exact one closes', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const k = established(n1, 42000);
    const timeout = () => n1.conntrack(0)[0].timeoutMs;
    expect(k.c(ACK | PSH, 1001, 5001, { len: 100 }).n).toBe(1);
    expect(timeout()).toBe(300_000); // data not yet acknowledged: the unacknowledged timeout (5 min)
    expect(k.s(B1, ACK, 5001, 1101).n).toBe(1);
    expect(timeout()).toBe(432_000_000);
    // an attacker's RST towards the backend with a guessed sequence number
    const blind = k.c(RST, 1101 + 50_000_000, 0);
    expect(blind.drops).toEqual({ ct_invalid: 1 });
    expect(k.state()).toBe('established');
    // before the max ack the server sent: "invalid rst"
    expect(k.c(RST, 1050, 0).drops).toEqual({ ct_invalid: 1 });
    expect(k.state()).toBe('established');
    // in the window, not at the ack: passed on (the receiver answers with a challenge ACK), state kept
    expect(k.c(RST, 1101 + 1000, 0).n).toBe(1);
    expect(k.state()).toBe('established');
    expect(timeout()).toBe(10_000); // tcp_packet: any accepted RST gets the CLOSE timeout, the state kept
    expect(k.c(ACK, 1101, 5001).n).toBe(1);
    expect(timeout()).toBe(300_000); // the RST's seq moved td_end past what the server acked: "unacknowledged"
    expect(k.c(RST | ACK, 1101, 5001).n).toBe(1);
    expect(k.state()).toBe('close');
  });

  it('closing: once a FIN was seen an RST is not sequence-checked (tcp_can_early_drop: the tuple may be reused already)', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const k = established(n1, 42100);
    k.c(FIN | ACK, 1001, 5001);
    expect(k.state()).toBe('fin_wait');
    expect(k.s(B1, RST, 5001 + 50_000_000, 0).n).toBe(1);
    expect(k.state()).toBe('close');
  });

  it('window tracking: data beyond what the receiver allowed is dropped, an ACK of data never sent is dropped; window scale is honoured', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const k = conn(n1, 43000);
    k.c(SYN, 1000, 0, { win: 1000, wscale: 7 });
    k.s(B1, SYN | ACK, 5000, 1001, { win: 1000, wscale: 7 }); // the server allows 1000 << 0 (SYN windows unscaled), then << 7
    k.c(ACK, 1001, 5001, { win: 1000 });
    expect(k.state()).toBe('established');
    expect(k.s(B1, ACK, 5001, 1001, { win: 100 }).n).toBe(1); // 100 << 7 = 12800 bytes
    expect(k.c(ACK | PSH, 1001, 5001, { len: 1400 }).n).toBe(1);
    expect(k.c(ACK | PSH, 1001 + 12_000, 5001, { len: 100 }).n).toBe(1);  // within 1001 + 12800 (unscaled: over)
    expect(k.c(ACK | PSH, 1001 + 200_000, 5001, { len: 100 }).drops).toEqual({ ct_invalid: 1 }); // over td_maxend
    expect(k.c(ACK, 1001, 5001 + 100_000).drops).toEqual({ ct_invalid: 1 }); // acks data the server never sent
    expect(k.state()).toBe('established');
  });
});

describe('conntrack: UDP stream only after 2 s (issue 11 item 4)', () => {
  const q = (n1: Dataplane, sport: number) => runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, sport, 53, new Uint8Array(20)) }) }]);
  const a = (n1: Dataplane, sport: number) => runNode(n1, [{ port: B1_PORT, frame: eth(N1.gwMac, B1_MAC, 0x0800, ip4({ src: B1, dst: N1.pod, proto: UDP, payload: udp(B1, N1.pod, 5353, sport, new Uint8Array(40)) })) }]);

  it('a DNS-like exchange (query, answer within 2 s) keeps the 30 s timeout and is not ASSURED', () => {
    const n1 = node();
    n1.addService(VIP, 53, 'udp', [{ ip: B1, port: 5353 }]);
    n1.setClock(10_000);
    expect(q(n1, 33000).tx).toHaveLength(1);
    n1.setClock(10_050);
    expect(a(n1, 33000).tx).toHaveLength(1);
    expect(n1.conntrack(10_050)).toEqual([expect.objectContaining({ seenReply: true, assured: false, timeoutMs: 30_000 })]);
    expect(n1.conntrack(10_050 + 29_999)).toHaveLength(1);
    expect(n1.conntrack(10_050 + 30_000)).toHaveLength(0);
  });

  it('a flow still active after 2 s with a reply seen: 120 s and ASSURED (the first reply alone is not enough)', () => {
    const n1 = node();
    n1.addService(VIP, 53, 'udp', [{ ip: B1, port: 5353 }]);
    n1.setClock(0);
    q(n1, 33001);
    n1.setClock(3_000);
    a(n1, 33001); // the first reply: SEEN_REPLY is set after it is handled, 30 s
    expect(n1.conntrack(3_000)[0]).toMatchObject({ seenReply: true, assured: false, timeoutMs: 30_000 });
    n1.setClock(3_500);
    q(n1, 33001);
    expect(n1.conntrack(3_500)[0]).toMatchObject({ assured: true, timeoutMs: 120_000 });
    expect(n1.conntrack(3_500 + 119_999)).toHaveLength(1);
  });
});
