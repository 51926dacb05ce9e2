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
import { runNode, podFrame, ip4, pseudo, arpRequest, udp, N1, POD } from './overlay-kit.ts';
import { VIP, B1, B1_MAC, B1_PORT, TCP, UDP, cat, l4At, setup } from './service-kit.ts';
import { refChecksum } from '../util.ts';

const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
const B2 = '10.244.0.4', B2_MAC = '0a:58:0a:f4:00:04', B2_PORT = 2;
const BACKEND: Record<string, { mac: string; port: number }> = { [B1]: { mac: B1_MAC, port: B1_PORT }, [B2]: { mac: B2_MAC, port: B2_PORT } };

interface SegOpts { win?: number; len?: number; wscale?: number }
/** A TCP segment with the given sequence numbers, window, payload length and (on SYNs) window scale option. */
function seg(src: string, dst: string, sport: number, dport: number, flags: number, seq: number, ack: number, o: SegOpts = {}): Uint8Array {
  const optLen = o.wscale === undefined ? 0 : 4;
  const b = new Uint8Array(20 + optLen + (o.len ?? 0));
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, ack >>> 0);
  b[12] = ((20 + optLen) / 4) << 4;
  b[13] = flags;
  v.setUint16(14, o.win ?? 64240);
  if (o.wscale !== undefined) b.set([1, 3, 3, o.wscale], 20); // NOP, window scale (RFC 7323)
  v.setUint16(16, refChecksum(cat(pseudo(src, dst, TCP, b.length), b)));
  return b;
}

/** Node 1 with backends B1 (port 1) and B2 (port 2) on its bridge. */
function node(): Dataplane {
  const [n1] = setup();
  n1.attachPort(B2_PORT, 1450);
  n1.setNeighbor(B2, B2_MAC);
  expect(runNode(n1, [{ port: B2_PORT, frame: arpRequest(B2_MAC, B2, N1.gw) }]).tx).toHaveLength(1);
  return n1;
}

/** One client connection N1.pod:sport -> VIP:80; `c` sends from the client, `s` from backend `b` (to the client). */
function conn(n1: Dataplane, sport: number) {
  const out = (r: ReturnType<typeof runNode>) => ({
    drops: r.drops, events: r.events, tx: r.tx.length === 1 ? l4At(r.tx[0].frame, 14) : undefined, n: r.tx.length,
  });
  return {
    c: (flags: number, seq: number, ack: number, o?: SegOpts) =>
      out(runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: VIP, proto: TCP, payload: seg(N1.pod, VIP, sport, 80, flags, seq, ack, o) }) }])),
    s: (b: string, flags: number, seq: number, ack: number, o?: SegOpts) =>
      out(runNode(n1, [{ port: BACKEND[b].port, frame: eth(N1.gwMac, BACKEND[b].mac, 0x0800, ip4({ src: b, dst: N1.pod, proto: TCP, payload: seg(b, N1.pod, 8080, sport, flags, seq, ack, o) })) }])),
    state: () => n1.conntrack(0).find((e) => e.orig.sport === sport && e.proto === TCP)?.state,
  };
}

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
    expect(n1.conntrack(0)).toEqual([expect.objectContaining({ state: 'established' })]);
  });

  it('a blind RST far outside the window is dropped and the flow stays; an in-window RST that is not exactly at the ack keeps it ESTABLISHED; the exact one closes', () => {
    const n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    const k = established(n1, 42000);
    expect(k.c(ACK | PSH, 1001, 5001, { len: 100 }).n).toBe(1);
    expect(k.s(B1, ACK, 5001, 1101).n).toBe(1);
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
    expect(k.c(RST | ACK, 1101, 5001).n).toBe(1);
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
