// The conntrack table (assembly/tables/conntrack.ts) through Dataplane:
// TCP/UDP/ICMP state tracking, per-state timeouts on the control-plane clock
// (u32, wrap-safe), both directions' lookups, NAT-style reply tuples, a full
// table, incremental GC, and 100k random operations against a JS model.
import { describe, it, expect } from 'vitest';
import { Dataplane, MTU_SLOT_SIZE, CT_PROTO, CT_TIMEOUTS, type CtTuple, type CtTimeoutName, type DataplaneOptions } from '../../src/dataplane/dataplane.ts';
import { prng } from '../util.ts';

const TCP = CT_PROTO.tcp, UDP = CT_PROTO.udp, ICMP = CT_PROTO.icmp;
const FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10;

function newDp(opts: DataplaneOptions = {}): Dataplane {
  return new Dataplane({ slots: 4, slotSize: MTU_SLOT_SIZE, maxPorts: 2, ctCapacity: 1024, ...opts });
}
const inv = (t: CtTuple): CtTuple => ({ src: t.dst, dst: t.src, sport: t.dport, dport: t.sport });
const A: CtTuple = { src: '10.244.0.2', dst: '10.244.1.3', sport: 40000, dport: 80 };
const ev = (dp: Dataplane) => dp.counters().events;

// The transitions are Linux's tcp_conntracks table (nf_conntrack_proto_tcp.c), from
// the flags alone here (ctUpdate: no sequence numbers, so no window checks; those are
// in service-conntrack.test.ts, frame by frame). INVALID and ignored segments change nothing.
describe('conntrack: TCP state tracking', () => {
  it('handshake, close from the client, and each transition; a SYN in TIME_WAIT deletes the entry', () => {
    const dp = newDp();
    const e = dp.ctCreate(TCP, A, 1000);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(dp.ctState(e)).toBe('syn_sent');
    expect(dp.ctUpdate(e, false, 1001, SYN)).toBe('syn_sent');      // retransmitted SYN
    expect(dp.ctUpdate(e, true, 1002, SYN | ACK)).toBe('syn_recv');
    expect(dp.conntrack(1002)[0]).toMatchObject({ state: 'syn_recv', seenReply: true, assured: false });
    expect(dp.ctUpdate(e, false, 1003, ACK)).toBe('established');
    expect(dp.conntrack(1003)[0]).toMatchObject({ state: 'established', assured: true });
    expect(dp.ctUpdate(e, true, 1004, ACK)).toBe('established');    // data
    expect(dp.ctUpdate(e, false, 1005, FIN | ACK)).toBe('fin_wait'); // client closes
    expect(dp.ctUpdate(e, false, 1006, FIN)).toBe('fin_wait');       // a FIN without ACK: INVALID (tcp_valid_flags), no change
    expect(dp.conntrack(1006)[0].ageMs).toBe(1);                      // ... and no refresh
    expect(dp.ctUpdate(e, true, 1007, ACK)).toBe('close_wait');     // server acks the FIN
    expect(dp.ctUpdate(e, true, 1008, FIN | ACK)).toBe('last_ack'); // server closes
    expect(dp.ctUpdate(e, false, 1010, ACK)).toBe('time_wait');     // client acks the last FIN
    expect(dp.ctUpdate(e, true, 1011, SYN | ACK)).toBe('time_wait'); // sIG: passed on, unchanged
    // port reuse from TIME_WAIT: the entry is deleted, the SYN is to be looked up afresh (NF_REPEAT)
    expect(dp.ctUpdate(e, false, 1012, SYN)).toBe('none');
    expect(dp.ctCount()).toBe(0);
    expect(ev(dp)).toMatchObject({ conntrack_deleted: 1 });
  });

  it('server closes first; crossing FINs; RST from any state; an RST before any reply deletes the entry', () => {
    const dp = newDp();
    const est = (t: number) => {
      const e = dp.ctCreate(TCP, { ...A, sport: 40000 + t }, t);
      dp.ctUpdate(e, true, t, SYN | ACK);
      dp.ctUpdate(e, false, t, ACK);
      expect(dp.ctState(e)).toBe('established');
      return e;
    };
    let e = est(1);
    expect(dp.ctUpdate(e, true, 2, FIN | ACK)).toBe('fin_wait');
    expect(dp.ctUpdate(e, false, 2, ACK)).toBe('close_wait');
    expect(dp.ctUpdate(e, false, 2, FIN | ACK)).toBe('last_ack');
    expect(dp.ctUpdate(e, false, 2, FIN | ACK)).toBe('last_ack'); // retransmitted FIN
    expect(dp.ctUpdate(e, true, 2, ACK)).toBe('time_wait');
    e = est(3);
    expect(dp.ctUpdate(e, false, 4, FIN | ACK)).toBe('fin_wait');
    expect(dp.ctUpdate(e, true, 4, FIN | ACK)).toBe('last_ack'); // FIN crossing FIN
    expect(dp.ctUpdate(e, false, 4, ACK)).toBe('time_wait');
    expect(dp.ctUpdate(e, true, 4, RST)).toBe('close');
    expect(dp.ctUpdate(e, false, 4, SYN)).toBe('none');         // reuse from CLOSE after a FIN: deleted
    // CLOSE by the server's RST, no FIN: the client's SYN is ignored (tcp_packet falls through to sIG)
    e = est(5);
    expect(dp.ctUpdate(e, true, 6, RST)).toBe('close');
    expect(dp.ctUpdate(e, false, 6, SYN)).toBe('close');
    // ... by the client's own RST: deleted
    e = est(7);
    expect(dp.ctUpdate(e, false, 8, RST | ACK)).toBe('close');
    expect(dp.ctUpdate(e, false, 8, SYN)).toBe('none');
    for (const [steps, name] of [
      [[[true, SYN | ACK]], 'syn_recv'], [[[true, SYN | ACK], [false, ACK]], 'established'],
    ] as [[boolean, number][], string][]) {
      const f = dp.ctCreate(TCP, { ...A, sport: 50000 + steps.length }, 10);
      for (const [r, fl] of steps) dp.ctUpdate(f, r, 10, fl);
      expect(dp.ctState(f)).toBe(name);
      expect(dp.ctUpdate(f, steps.length % 2 === 0, 11, RST | ACK)).toBe('close');
      expect(dp.ctState(f)).toBe('close');
    }
    // no reply seen: "the only reply is a RST", the entry goes at once
    const n = dp.ctCount();
    const k = dp.ctCreate(TCP, { ...A, sport: 50500 }, 10);
    expect(dp.ctUpdate(k, true, 11, RST | ACK)).toBe('close');
    expect(dp.ctCount()).toBe(n);
    // SYN+ACK in the original direction, a bare ACK in SYN_SENT, a SYN from the server: no change
    const g = dp.ctCreate(TCP, { ...A, sport: 60000 }, 20);
    expect(dp.ctUpdate(g, false, 20, SYN | ACK)).toBe('syn_sent');
    expect(dp.ctUpdate(g, false, 20, ACK)).toBe('syn_sent');
    expect(dp.ctUpdate(g, true, 20, ACK)).toBe('syn_sent');
  });
});

/** Drive a new entry to `state`; the last packet at time `t`. */
function entryIn(dp: Dataplane, name: CtTimeoutName, t: number, sport: number): { e: number; proto: number; tuple: CtTuple } {
  const tuple = { ...A, sport };
  const steps: Record<CtTimeoutName, [number, [boolean, number][]]> = {
    tcp_syn_sent: [TCP, []],
    tcp_syn_recv: [TCP, [[true, SYN | ACK]]],
    tcp_established: [TCP, [[true, SYN | ACK], [false, ACK]]],
    tcp_fin_wait: [TCP, [[true, SYN | ACK], [false, ACK], [false, FIN | ACK]]],
    tcp_close_wait: [TCP, [[true, SYN | ACK], [false, ACK], [false, FIN | ACK], [true, ACK]]],
    tcp_last_ack: [TCP, [[true, SYN | ACK], [false, ACK], [false, FIN | ACK], [true, FIN | ACK]]],
    tcp_time_wait: [TCP, [[true, SYN | ACK], [false, ACK], [false, FIN | ACK], [true, FIN | ACK], [false, ACK]]],
    tcp_close: [TCP, [[true, SYN | ACK], [true, RST]]],
    udp_unreplied: [UDP, [[false, 0]]],
    udp_stream: [UDP, [[true, 0], [false, 0]]], // a reply, then a datagram more than 2 s after the first
    icmp: [ICMP, [[false, 0]]],
    icmp_replied: [ICMP, [[true, 0]]],
    generic: [47, [[true, 0]]],
    // timeout classes, reached only with sequence numbers (service-conntrack.test.ts): not driven here
    tcp_retrans: [TCP, []],
    tcp_unacknowledged: [TCP, []],
  };
  const [proto, seq] = steps[name];
  const e = dp.ctCreate(proto, tuple, (t - 5000) >>> 0);
  for (const [r, fl] of seq) dp.ctUpdate(e, r, t, fl);
  if (seq.length === 0) dp.ctUpdate(e, false, t, SYN);
  return { e, proto, tuple };
}

const LINUX_S: Record<CtTimeoutName, number> = {
  tcp_syn_sent: 120, tcp_syn_recv: 60, tcp_established: 432000, tcp_fin_wait: 120, tcp_close_wait: 60,
  tcp_last_ack: 30, tcp_time_wait: 120, tcp_close: 10, udp_unreplied: 30, udp_stream: 120, icmp: 30,
  icmp_replied: 30, generic: 600, tcp_retrans: 300, tcp_unacknowledged: 300,
};

describe('conntrack: timeouts on the control-plane clock', () => {
  it('Linux defaults', () => {
    const dp = newDp();
    for (const [name, s] of Object.entries(LINUX_S)) expect(dp.ctTimeout(name as CtTimeoutName), name).toBe(s * 1000);
  });

  for (const name of (Object.keys(CT_TIMEOUTS) as CtTimeoutName[]).filter((n) => n !== 'tcp_retrans' && n !== 'tcp_unacknowledged')) {
    for (const t0 of [1_000_000, 0xffffffff - 1000]) { // the second crosses the u32 wrap
      it(`${name}: present just before ${LINUX_S[name]} s, absent at and after (t0 ${t0})`, () => {
        const dp = newDp();
        const T = LINUX_S[name] * 1000;
        const a = entryIn(dp, name, t0, 1111);
        const b = entryIn(dp, name, t0, 2222);
        const state = dp.ctState(a.e);
        expect(dp.ctLookup(a.proto, a.tuple, (t0 + T - 1) >>> 0)).toEqual({ entry: a.e, reply: false });
        expect(dp.ctLookup(a.proto, inv(a.tuple), (t0 + T - 1) >>> 0)).toEqual({ entry: a.e, reply: true });
        expect(dp.conntrack((t0 + T - 1) >>> 0).find((c) => c.entry === a.e)).toMatchObject({ state, ageMs: T - 1, timeoutMs: T });
        expect(dp.ctLookup(a.proto, a.tuple, (t0 + T) >>> 0)).toBeUndefined();
        expect(dp.ctLookup(b.proto, inv(b.tuple), (t0 + T + 12345) >>> 0)).toBeUndefined();
        expect(dp.ctCount()).toBe(0);
        expect(ev(dp).conntrack_expired).toBe(2);
      });
    }
  }

  it('settable per state; the setting applies to live entries', () => {
    const dp = newDp();
    const e = dp.ctCreate(UDP, A, 0);
    dp.setCtTimeout('udp_unreplied', 5000);
    expect(dp.ctTimeout('udp_unreplied')).toBe(5000);
    expect(dp.ctLookup(UDP, A, 4999)?.entry).toBe(e);
    expect(dp.ctLookup(UDP, A, 5000)).toBeUndefined();
  });

  it('UDP: unreplied 30 s; a reply keeps 30 s; the next packet after stream_ts (2 s) makes a 120 s assured stream', () => {
    const dp = newDp();
    const e = dp.ctCreate(UDP, A, 0);
    expect(dp.ctState(e)).toBe('unreplied');
    expect(dp.ctUpdate(e, false, 29_000)).toBe('unreplied');         // refresh
    expect(dp.ctLookup(UDP, A, 58_999)?.entry).toBe(e);
    expect(dp.ctUpdate(e, true, 58_999)).toBe('unreplied');          // SEEN_REPLY is set after the packet
    expect(dp.conntrack(58_999)[0]).toMatchObject({ seenReply: true, assured: false, timeoutMs: 30_000 });
    expect(dp.ctUpdate(e, false, 59_000)).toBe('replied');
    expect(dp.conntrack(59_000)[0]).toMatchObject({ state: 'replied', seenReply: true, assured: true, timeoutMs: 120_000 });
    expect(dp.ctLookup(UDP, A, 59_000 + 119_999)?.entry).toBe(e);
    expect(dp.ctLookup(UDP, A, 59_000 + 120_000)).toBeUndefined();
    // within 2 s of the first packet: replies both ways, never a stream (a DNS query and its answer)
    const d = dp.ctCreate(UDP, A, 200_000);
    for (const [r, t] of [[true, 200_010], [false, 201_000], [true, 202_000]] as const) expect(dp.ctUpdate(d, r, t)).toBe('unreplied');
    expect(dp.ctUpdate(d, false, 202_001)).toBe('replied');
  });

  it('ICMP echo: the identifier is the port on both sides; request, then reply', () => {
    const dp = newDp();
    const req: CtTuple = { src: '10.244.0.2', dst: '10.244.1.3', sport: 0x1234, dport: 0x1234 };
    const e = dp.ctCreate(ICMP, req, 100);
    expect(dp.ctState(e)).toBe('icmp_request');
    const rep = dp.ctLookup(ICMP, { src: '10.244.1.3', dst: '10.244.0.2', sport: 0x1234, dport: 0x1234 }, 200);
    expect(rep).toEqual({ entry: e, reply: true });
    expect(dp.ctUpdate(e, true, 200)).toBe('icmp_replied');
    expect(dp.ctLookup(ICMP, { ...req, sport: 0x1235, dport: 0x1235 }, 200)).toBeUndefined(); // another identifier
    expect(dp.ctLookup(UDP, req, 200)).toBeUndefined();                                     // another protocol
    expect(dp.ctLookup(ICMP, req, 200 + 29_999)).toEqual({ entry: e, reply: false });
    expect(dp.ctLookup(ICMP, req, 200 + 30_000)).toBeUndefined();
  });
});

describe('conntrack: lookups, NAT tuples, capacity, GC', () => {
  it('the reply direction finds the same entry; a live tuple cannot be taken twice', () => {
    const dp = newDp();
    const e = dp.ctCreate(TCP, A, 0);
    expect(dp.ctLookup(TCP, A, 1)).toEqual({ entry: e, reply: false });
    expect(dp.ctLookup(TCP, inv(A), 1)).toEqual({ entry: e, reply: true });
    expect(dp.ctLookup(TCP, { ...A, dport: 81 }, 1)).toBeUndefined();
    expect(dp.ctCreate(TCP, A, 1)).toBe(-2);
    expect(dp.ctCreate(TCP, inv(A), 1)).toBe(-2);
    expect(dp.ctCount()).toBe(1);
    expect(dp.ctDelete(e)).toBe(true);
    expect(dp.ctDelete(e)).toBe(false);
    expect(dp.ctLookup(TCP, A, 1)).toBeUndefined();
    expect(dp.ctLookup(TCP, inv(A), 1)).toBeUndefined();
    expect(ev(dp)).toMatchObject({ conntrack_created: 1, conntrack_deleted: 1 });
  });

  it('a NAT-style reply tuple (not the inverse) is found by the reply packet', () => {
    const dp = newDp();
    // client 10.244.0.2:40000 -> Service 10.96.0.10:80, DNAT to pod 10.244.1.3:8080
    const orig: CtTuple = { src: '10.244.0.2', dst: '10.96.0.10', sport: 40000, dport: 80 };
    const reply: CtTuple = { src: '10.244.1.3', dst: '10.244.0.2', sport: 8080, dport: 40000 };
    const e = dp.ctCreate(TCP, orig, 0, reply);
    expect(dp.ctLookup(TCP, reply, 1)).toEqual({ entry: e, reply: true });
    expect(dp.ctLookup(TCP, inv(orig), 1)).toBeUndefined(); // the Service address never answers
    expect(dp.conntrack(1)).toEqual([expect.objectContaining({ proto: TCP, orig, reply, state: 'syn_sent', ageMs: 1, timeoutMs: 120_000 })]);
  });

  it('full: create fails and is counted, older entries still found; room again after a delete', () => {
    const dp = newDp({ ctCapacity: 8 });
    const tuples = Array.from({ length: 8 }, (_, i) => ({ ...A, sport: 1000 + i }));
    const ids = tuples.map((t) => dp.ctCreate(UDP, t, 0));
    expect(new Set(ids).size).toBe(8);
    expect(dp.ctCreate(UDP, { ...A, sport: 2000 }, 0)).toBe(-1);
    expect(dp.ctCreate(UDP, { ...A, sport: 2001 }, 0)).toBe(-1);
    expect(ev(dp)).toMatchObject({ conntrack_full: 2, conntrack_created: 8 });
    tuples.forEach((t, i) => {
      expect(dp.ctLookup(UDP, t, 1)).toEqual({ entry: ids[i], reply: false });
      expect(dp.ctLookup(UDP, inv(t), 1)).toEqual({ entry: ids[i], reply: true });
    });
    expect(dp.ctLookup(UDP, { ...A, sport: 2000 }, 1)).toBeUndefined();
    dp.ctDelete(ids[3]);
    expect(dp.ctCreate(UDP, { ...A, sport: 2000 }, 1)).toBe(ids[3]);
    // capacity 0: every create fails
    expect(newDp({ ctCapacity: 0 }).ctCreate(UDP, A, 0)).toBe(-1);
  });

  it('GC with a small budget removes expired entries over several calls, never live ones', () => {
    const dp = newDp({ ctCapacity: 100 });
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) {
      const e = dp.ctCreate(UDP, { ...A, sport: 3000 + i }, 0);
      if (i % 3 === 0) dp.ctUpdate(e, false, 20_000); // refreshed: live at 40 s
      ids.push(e);
    }
    const now = 40_000;
    const live = ids.filter((_, i) => i % 3 === 0).length; // 34
    let removed = 0;
    let calls = 0;
    for (let k = 0; k < 10; k++) {
      const r = dp.ctGc(now, 7);
      expect(r).toBeLessThanOrEqual(7);
      removed += r;
      calls++;
      expect(dp.ctCount()).toBe(100 - removed);
    }
    expect(removed).toBeGreaterThan(0);
    expect(removed).toBeLessThan(100 - live);
    while (removed < 100 - live && calls < 100) { removed += dp.ctGc(now, 7); calls++; }
    expect(removed).toBe(100 - live);
    expect(calls).toBe(Math.ceil(100 / 7));
    // a budget past the entries that may be live looks at each once: the cursor ends where it began
    const cursor = dp.ex.ctGcCursor();
    expect(dp.ctGc(now, 1050)).toBe(0);
    expect(dp.ex.ctGcCursor()).toBe(cursor);
    expect(dp.ctCount()).toBe(live);
    for (let i = 0; i < 100; i++) {
      const r = dp.ctLookup(UDP, inv({ ...A, sport: 3000 + i }), now);
      expect(r?.entry).toBe(i % 3 === 0 ? ids[i] : undefined);
    }
    expect(ev(dp).conntrack_expired).toBe(100 - live);
    expect(dp.conntrack(now)).toHaveLength(live);
  });

  it('u32 clock wrap-around: ages measured across 2^32', () => {
    const dp = newDp();
    const t0 = 0xffffffff - 10_000;
    const e = dp.ctCreate(UDP, A, t0);
    expect(dp.ctLookup(UDP, A, 19_998)?.entry).toBe(e);    // 29 999 ms after t0, past the wrap
    expect(dp.conntrack(19_998)[0].ageMs).toBe(29_999);
    expect(dp.ctGc(19_999, 10)).toBe(1);                 // exactly 30 s
    expect(dp.ctCount()).toBe(0);
  });
});

// ---- model: 100k random operations, seeded; both builds ----

interface MEntry { proto: number; orig: CtTuple; reply: CtTuple; seen: number; state: number; created: number; seenReply: boolean }
const key = (p: number, t: CtTuple) => `${p}|${t.src}|${t.dst}|${t.sport}|${t.dport}`;

function runModel(build: 'release' | 'debug', seed: number, ops: number) {
  const CAP = 48;
  const dp = newDp({ ctCapacity: CAP, build });
  dp.setCtTimeout('tcp_syn_sent', 50_000);
  const r = prng(seed);
  const ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.96.0.1', '10.0.0.4'];
  const ports = [53, 80, 1000, 1001, 40000];
  const protos = [TCP, UDP, ICMP];
  const tuple = (): CtTuple => {
    const s = r.int(ips.length);
    const d = (s + 1 + r.int(ips.length - 1)) % ips.length;
    return { src: ips[s], dst: ips[d], sport: ports[r.int(ports.length)], dport: ports[r.int(ports.length)] };
  };
  const timeout = (st: number) => dp.ex.ctTimeout(st);
  const keys = new Map<string, { entry: number; reply: boolean }>();
  const entries = new Map<number, MEntry>();
  let hw = 0, cursor = 0;
  const tally = { created: 0, expired: 0, deleted: 0, full: 0 };
  let now = (0xffffffff - 2_000_000 + r.int(1000)) >>> 0; // crosses the wrap along the way
  const expired = (m: MEntry) => ((now - m.seen) >>> 0) >= timeout(m.state);
  const remove = (e: number) => {
    const m = entries.get(e)!;
    keys.delete(key(m.proto, m.orig));
    keys.delete(key(m.proto, m.reply));
    entries.delete(e);
  };
  const clear = (p: number, t: CtTuple): boolean => {
    const k = keys.get(key(p, t));
    if (!k) return true;
    if (!expired(entries.get(k.entry)!)) return false;
    remove(k.entry); tally.expired++;
    return true;
  };
  const liveIds = () => [...entries.keys()];

  for (let op = 0; op < ops; op++) {
    const c = r.int(100);
    if (c < 30) { // create
      const p = protos[r.int(3)];
      const orig = tuple();
      let reply = r.chance(0.3) ? tuple() : inv(orig);
      if (key(p, reply) === key(p, orig)) reply = inv(orig);
      if (p === ICMP) { orig.dport = orig.sport; reply = { ...reply, sport: orig.sport, dport: orig.sport }; }
      if (key(p, reply) === key(p, orig)) continue;
      let want: number | undefined;
      if (!clear(p, orig) || !clear(p, reply)) want = -2;
      else if (entries.size >= CAP) { want = -1; tally.full++; }
      const got = dp.ctCreate(p, orig, now, reply);
      if (want !== undefined) { expect(got, `op ${op} create`).toBe(want); continue; }
      expect(got, `op ${op} create`).toBeGreaterThanOrEqual(0);
      expect(got).toBeLessThan(CAP);
      expect(entries.has(got)).toBe(false);
      entries.set(got, { proto: p, orig, reply, seen: now, state: p === TCP ? 1 : p === UDP ? 9 : 11, created: now, seenReply: false });
      keys.set(key(p, orig), { entry: got, reply: false });
      keys.set(key(p, reply), { entry: got, reply: true });
      hw = Math.max(hw, got + 1);
      tally.created++;
    } else if (c < 60) { // lookup: a known tuple or a random one
      let p: number, t: CtTuple;
      const ids = liveIds();
      if (ids.length && r.chance(0.7)) {
        const m = entries.get(ids[r.int(ids.length)])!;
        p = m.proto; t = r.chance(0.5) ? m.orig : m.reply;
      } else { p = protos[r.int(3)]; t = tuple(); }
      let want: { entry: number; reply: boolean } | undefined = keys.get(key(p, t));
      if (want && expired(entries.get(want.entry)!)) { remove(want.entry); tally.expired++; want = undefined; }
      expect(dp.ctLookup(p, t, now), `op ${op} lookup`).toEqual(want);
    } else if (c < 72) { // update (UDP: a stream once a reply was seen and 2 s passed; an ICMP reply: replied; TCP without flags: INVALID, nothing)
      const ids = liveIds();
      if (!ids.length) continue;
      const e = ids[r.int(ids.length)];
      const m = entries.get(e)!;
      const reply = r.chance(0.5);
      if (m.proto === UDP && m.seenReply && ((now - m.created) >>> 0) > 2000) m.state = 10;
      if (reply && m.proto === ICMP) m.state = 12;
      if (m.proto !== TCP) { m.seen = now; if (reply) m.seenReply = true; }
      expect(dp.ex.ctUpdate(e, reply ? 1 : 0, 0, now), `op ${op} update`).toBe(m.state);
    } else if (c < 80) { // delete: a live entry, or any index
      const ids = liveIds();
      const e = ids.length && r.chance(0.8) ? ids[r.int(ids.length)] : r.int(CAP + 4);
      const want = entries.has(e);
      if (want) { remove(e); tally.deleted++; }
      expect(dp.ctDelete(e), `op ${op} delete`).toBe(want);
    } else if (c < 90) { // gc
      const budget = r.int(12);
      let want = 0;
      if (hw > 0) {
        for (let n = 0; n < budget; n++) {
          const e = cursor;
          cursor = cursor + 1 >= hw ? 0 : cursor + 1;
          const m = entries.get(e);
          if (m && expired(m)) { remove(e); want++; }
        }
      }
      tally.expired += want;
      expect(dp.ctGc(now, budget), `op ${op} gc`).toBe(want);
    } else { // time passes
      now = (now + (r.chance(0.2) ? r.int(200_000) : r.int(5_000))) >>> 0;
    }
    expect(dp.ctCount(), `op ${op} count`).toBe(entries.size);
    if (op % 997 === 0) {
      const listed = dp.conntrack(now).map((x) => [x.entry, key(x.proto, x.orig), key(x.proto, x.reply)]);
      const want = [...entries].filter(([, m]) => !expired(m)).sort((a, b) => a[0] - b[0])
        .map(([e, m]) => [e, key(m.proto, m.orig), key(m.proto, m.reply)]);
      expect(listed).toEqual(want);
    }
  }
  const evs = dp.counters().events;
  expect(evs).toMatchObject({
    conntrack_created: tally.created, conntrack_expired: tally.expired,
    conntrack_deleted: tally.deleted, conntrack_full: tally.full,
  });
  // every kind of outcome happened
  expect(tally.full).toBeGreaterThan(0);
  expect(tally.expired).toBeGreaterThan(0);
}

describe('conntrack: 100k random operations agree with a JS model', () => {
  it('release build', () => runModel('release', 0xc0ffee, 100_000), 60_000);
  it('debug build (assertions on)', () => runModel('debug', 0xbeef, 100_000), 60_000);
});
