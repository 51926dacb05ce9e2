// Fuzzing, seeded and reproducible (a failure prints its seed), on the
// release and the debug build (the debug build keeps AssemblyScript's
// assertions and bounds checks): nothing traps, and every frame gets one
// verdict. First a single node with only a gateway (random and mutated
// frames in batches); then every stage: two nodes over each overlay, with
// Services and conntrack, super-frames and fragments (fuzz-stages.ts).
import { describe, it, expect } from 'vitest';
import { GSO_SLOT_SIZE, GEN_SLOT, type Dataplane, type CounterSnapshot } from '../../src/dataplane/dataplane.ts';
import { newDataplane, run, delta, eth, vnet, GW_MAC, BCAST, podMac, type In, type Result } from './frames.ts';
import { UL, type Kind } from './overlay-kit.ts';
import { lab, seedKinds, makeInput } from './fuzz-stages.ts';
import { hex, toHex, prng, refChecksum, rd16 } from '../util.ts';
import * as ethV from '../vectors/ethernet.ts';
import * as arpV from '../vectors/arp.ts';
import * as ipV from '../vectors/ipv4.ts';
import * as icmpV from '../vectors/icmp.ts';
import * as udpV from '../vectors/udp.ts';
import * as tcpV from '../vectors/tcp.ts';
import * as vnetV from '../vectors/virtio.ts';

const PORTS = 4;
const MAX_FRAME = 1514; // every port's MTU is 9000: no oversize, so each frame is one drop or >= 1 tx
const GW = hex(GW_MAC.replaceAll(':', ''));

/** Seed frames: every Ethernet frame scapy made (vnet header split off where there is one). */
function seeds(): In[] {
  const out: In[] = [];
  for (const mod of [ethV, arpV, ipV, icmpV, udpV, tcpV]) {
    for (const v of Object.values(mod) as { hex: string }[]) {
      const b = hex(v.hex);
      if (b.length >= 14 && (b[12] === 0x08 || b[12] === 0x81 || b[12] === 0x88)) out.push({ port: 0, frame: b });
    }
  }
  for (const v of [vnetV.VNET_TCP_PARTIAL, vnetV.VNET_ICMP_PARTIAL]) {
    const b = hex(v.hex);
    out.push({ port: 0, frame: b.subarray(10), vnet: b.subarray(0, 10) });
  }
  return out;
}

function mutator(seed: number) {
  const r = prng(seed);
  const base = seeds();
  const macs = [GW_MAC, BCAST, podMac(2), podMac(3), podMac(4), '01:00:5e:00:00:01', '00:00:00:00:00:00'];
  const types = [0x0800, 0x0806, 0x8100, 0x88a8, 0x86dd, 0x0000];
  const gsoTypes = [0, 1, 3, 4, 5, 0x80, 0x81, 2, 6];
  return (): In => {
    let frame: Uint8Array;
    let v: Uint8Array | undefined;
    if (r.chance(0.1)) {
      frame = r.bytes(r.int(200)); // pure noise
    } else {
      const s = base[r.int(base.length)];
      frame = s.frame.slice();
      v = s.vnet?.slice();
      if (r.chance(0.4)) frame.set(hex(macs[r.int(macs.length)].replaceAll(':', '')), 0);
      if (r.chance(0.1)) frame.set(hex(macs[r.int(macs.length)].replaceAll(':', '')), 6);
      if (r.chance(0.1) && frame.length >= 14) { const t = types[r.int(types.length)]; frame[12] = t >> 8; frame[13] = t & 0xff; }
      const flips = r.chance(0.6) ? 1 + r.int(4) : 0;
      for (let i = 0; i < flips && frame.length; i++) {
        const at = r.chance(0.8) ? r.int(Math.min(frame.length, 64)) : r.int(frame.length);
        frame[at] = r.chance(0.5) ? r.int(256) : frame[at] ^ (1 << r.int(8));
      }
      if (r.chance(0.15)) frame = frame.subarray(0, r.int(frame.length + 1));
      if (r.chance(0.1)) frame = Uint8Array.from([...frame, ...r.bytes(r.int(MAX_FRAME - frame.length + 1))]);
    }
    if (r.chance(0.15)) {
      v = vnet({
        flags: r.int(4), gsoType: gsoTypes[r.int(gsoTypes.length)], hdrLen: r.int(128),
        gsoSize: r.chance(0.2) ? 0 : r.int(9000), csumStart: r.int(120), csumOffset: r.int(24),
      });
    }
    const port = r.chance(0.95) ? r.int(PORTS) : [5, 7, 200][r.int(3)];
    return { port, frame: frame.subarray(0, MAX_FRAME), vnet: v };
  };
}

/** Everything that must hold for one processed batch. Returns how many gateway replies were checked. */
function checkBatch(batch: In[], r: Result, dp: ReturnType<typeof newDataplane>): number {
  let checked = 0;
  const slotsOut = new Set(r.tx.map((t) => t.slot));
  const attached = batch.filter((f) => f.port < PORTS).length;
  expect(r.dropTotal).toBe(batch.length - slotsOut.size);
  const sum = (k: string) => r.ports.reduce((s, p) => s + (p[k] ?? 0), 0);
  expect(sum('rx_packets')).toBe(attached);
  expect(sum('rx_drops')).toBe(attached - slotsOut.size);
  expect(sum('tx_packets')).toBe(r.tx.length);
  expect(sum('tx_bytes')).toBe(r.tx.reduce((s, t) => s + t.frame.length, 0));
  for (let i = 0; i < r.tx.length; i++) {
    const t = r.tx[i];
    const e = dp.txEntry(i);
    const inF = batch[t.slot];
    expect(t.port).toBeLessThan(PORTS);
    expect(e.start).toBeGreaterThanOrEqual(dp.slotBase + t.slot * dp.slotSize);
    expect(e.start + e.length).toBeLessThanOrEqual(dp.slotBase + (t.slot + 1) * dp.slotSize);
    expect(t.frame.length).toBe(inF.frame.length);
    const fromGw = toHex(t.frame.subarray(6, 12)) === toHex(GW);
    if (t.port === inF.port) expect(fromGw, 'only gateway replies go back out of the ingress port').toBe(true);
    if (fromGw && t.port === inF.port) { checkReply(t.frame); checked++; }
  }
  return checked;
}


/** A gateway reply must be well formed: ARP opcode 2, or an echo reply with valid checksums. */
function checkReply(f: Uint8Array): void {
  const l2 = rd16(f, 12) === 0x8100 || rd16(f, 12) === 0x88a8 ? 18 : 14;
  const type = rd16(f, l2 - 2);
  if (type === 0x0806) {
    expect(rd16(f, l2 + 6)).toBe(2);
    expect(toHex(f.subarray(l2 + 8, l2 + 14))).toBe(toHex(GW));
  } else {
    expect(type).toBe(0x0800);
    const ihl = (f[l2] & 0xf) * 4;
    expect(refChecksum(f.subarray(l2, l2 + ihl))).toBe(0);
    const total = rd16(f, l2 + 2);
    const msg = f.subarray(l2 + ihl, l2 + total);
    expect(msg[0]).toBe(0);
    expect(refChecksum(msg)).toBe(0);
  }
}

// the debug build keeps AssemblyScript's bounds asserts: a trap there is a bug the release build hides
describe.each(['release', 'debug'] as const)('fuzz: random and mutated frames (%s build)', (build) => {
  it('20,000 frames in batches of 1..64: no trap, counters add up, replies well formed', () => {
    const dp = newDataplane(PORTS, { mtu: 9000, slots: 64, build });
    const next = mutator(0x9e3779b9);
    const r = prng(42);
    let frames = 0, txTotal = 0, dropTotal = 0, replies = 0, checked = 0;
    let clock = 0;
    while (frames < 20_000) {
      const batch = Array.from({ length: 1 + r.int(64) }, next);
      clock += r.int(20_000);
      dp.setClock(clock);
      if (r.chance(0.02)) dp.ex.fdbExpire(clock);
      const res = run(dp, batch); // a trap would throw a RuntimeError here
      checked += checkBatch(batch, res, dp);
      frames += batch.length;
      txTotal += res.tx.length;
      dropTotal += res.dropTotal;
      replies += (res.events.arp_replies ?? 0) + (res.events.icmp_echo_replies ?? 0);
    }
    // the mix exercised every kind of outcome, not just one
    const c = dp.counters();
    expect(txTotal).toBeGreaterThan(1000);
    expect(dropTotal).toBeGreaterThan(1000);
    expect(replies).toBeGreaterThan(50);
    expect(checked).toBeGreaterThan(replies * 0.8);
    const reached = Object.entries(c.drops).filter(([, n]) => n > 0).map(([k]) => k);
    expect(reached.length).toBeGreaterThanOrEqual(14);
  });

  it('2,000 frames one at a time: each frame either has tx entries and no drop, or no tx and exactly one drop', () => {
    const dp = newDataplane(PORTS, { mtu: 9000, slots: 4, build });
    const next = mutator(7);
    for (let i = 0; i < 2000; i++) {
      const f = next();
      const res = run(dp, [f]);
      if (res.tx.length > 0) expect(res.dropTotal, `frame ${i}`).toBe(0);
      else {
        expect(res.dropTotal, `frame ${i}`).toBe(1);
        expect(Object.values(res.drops)).toEqual([1]);
      }
    }
  });

  it('GSO-sized slots: random vnet headers on large frames never trap', () => {
    const dp = newDataplane(PORTS, { mtu: 1500, slots: 8, slotSize: GSO_SLOT_SIZE, build });
    const r = prng(99);
    for (let n = 0; n < 200; n++) {
      const batch: In[] = Array.from({ length: 8 }, () => ({
        port: r.int(PORTS),
        frame: eth(r.chance(0.5) ? BCAST : podMac(2 + r.int(3)), podMac(2 + r.int(3)), 0x0800, r.bytes(r.int(65000))),
        vnet: vnet({ flags: r.int(2), gsoType: [0, 1, 4][r.int(3)], gsoSize: 1 + r.int(9000), csumStart: r.int(65535), csumOffset: r.int(65535) }),
      }));
      const res = run(dp, batch);
      expect(res.tx.length + res.dropTotal).toBeGreaterThanOrEqual(batch.length);
    }
  });
});

// ---- every stage ----

/**
 * The one-verdict invariant for one frame: it leaves through at least one tx
 * entry (its own, or frames made from it: fragments, segments) and no drop
 * counter moves, or exactly one drop counter moves by one and nothing of its
 * own is queued (generated ICMP errors / resets about it may be). A third
 * outcome is coming with IP reassembly: a fragment held in a reassembly
 * buffer, neither sent nor dropped, counted as an event. Name that event in
 * HELD_EVENTS and such a frame is classified 'held'.
 */
export const HELD_EVENTS: string[] = ['frags_queued'];
export type Verdict = 'sent' | 'dropped' | 'held';

export function verdictOf(d: Omit<Result, 'tx'>, txOwn: number, txGen: number): Verdict {
  const held = HELD_EVENTS.some((e) => (d.events[e] ?? 0) > 0);
  const reasons = Object.entries(d.drops);
  if (d.dropTotal === 0) {
    if (txOwn + txGen > 0 && !held) return 'sent';
    if (held && txOwn === 0) return 'held';
    throw new Error(held ? 'held and sent' : 'no tx entry and no drop counted');
  }
  if (d.dropTotal === 1 && reasons.length === 1 && !held) {
    if (txOwn > 0) throw new Error(`dropped (${reasons[0][0]}) and also sent`);
    return 'dropped';
  }
  throw new Error(`more than one verdict: drops ${JSON.stringify(d.drops)}${held ? ', held' : ''}, ${txOwn} own tx entries`);
}

const hexOf = (b?: Uint8Array, n = 160) => (b ? Buffer.from(b.subarray(0, n)).toString('hex') + (b.length > n ? '...' : '') : '-');
const SEED = Number(process.env.PW_FUZZ_SEED ?? 0x5eed2026) >>> 0;
const ENVS: [Kind, boolean][] = [['vxlan', false], ['vxlan', true], ['ipip', false], ['ipip', true], ['host-gw', false], ['host-gw', true]];
const FRAMES_PER_ENV = Math.ceil(20_000 / ENVS.length);

/** One frame on rx entry `i` of `dp`, appended to this round's tx list: its verdict and what it queued. */
function step(dp: Dataplane, i: number) {
  const before: CounterSnapshot = dp.counters();
  const first = dp.processRange(i, 0);
  const n = dp.processRange(i, 1);
  const d = delta(before, dp.counters());
  const entries = Array.from({ length: n - first }, (_, k) => dp.txEntry(first + k));
  const own = entries.filter((e) => e.slot === i).length;
  const gen = entries.filter((e) => e.slot === GEN_SLOT).length;
  expect(own + gen, 'tx entries belong to the frame or are generated').toBe(entries.length);
  return { verdict: verdictOf(d, own, gen), d, entries };
}

describe.each(['release', 'debug'] as const)('fuzz: every stage, structure-aware mutations (%s build)', (build) => {
  it.each(ENVS)(`%s, underlay without GSO: %s — ${FRAMES_PER_ENV} frames, one verdict each, node 2 too`, (kind, noGso) => {
    const seed = (SEED ^ (ENVS.findIndex(([k, g]) => k === kind && g === noGso) * 0x9e3779b1)) >>> 0;
    const [n1, n2] = lab(kind, build, noGso);
    const r = prng(seed);
    const kinds = seedKinds(kind);
    const names = Object.keys(kinds);
    const seen = { sent: 0, dropped: 0, held: 0, peer: 0 };
    const reasons = new Set<string>();
    const events: Record<string, number> = {};
    let clock = 1_000_000;
    let done = 0;
    while (done < FRAMES_PER_ENV) {
      clock += r.chance(0.05) ? 200_000 + r.int(1_000_000) : r.int(50); // now and then long enough for timeouts
      n1.setClock(clock); n2.setClock(clock);
      if (r.chance(0.05)) n1.ctGc(clock, 64);
      const batch = Array.from({ length: 1 + r.int(64) }, () => makeInput(r, kinds, names));
      n1.txClear();
      batch.forEach((f, i) => n1.putFrame(i, f.port, f.frame, f.vnet));
      for (let i = 0; i < batch.length; i++) {
        const f = batch[i];
        const where = `seed 0x${seed.toString(16)} (PW_FUZZ_SEED=0x${SEED.toString(16)} to rerun), ${kind}${noGso ? ' no-GSO' : ''}, frame ${done + i} `
          + `(${f.kind}, port ${f.port}): frame ${hexOf(f.frame)} vnet ${hexOf(f.vnet)}`;
        let res;
        try { res = step(n1, i); } catch (e) { throw new Error(`node 1: ${(e as Error).message}; ${where}`); }
        seen[res.verdict]++;
        for (const k of Object.keys(res.d.drops)) reasons.add(k);
        for (const [k, v] of Object.entries(res.d.events)) events[k] = (events[k] ?? 0) + v;
        // the fabric: node 1's underlay frames to node 2, by address, as the engine hands them over
        for (const e of res.entries.filter((x) => x.port === UL)) {
          n2.txClear();
          n2.rxAddr[n2.slots] = e.start; n2.rxLen[n2.slots] = e.length; n2.rxPort[n2.slots] = UL;
          try { step(n2, n2.slots); } catch (err) { throw new Error(`node 2, handed over: ${(err as Error).message}; ${where}`); }
          seen.peer++;
        }
      }
      done += batch.length;
    }
    if (process.env.PW_FUZZ_STATS) console.log(kind, noGso, seen, [...reasons].sort().join(" "), JSON.stringify(events));
    // the mix reached every kind of outcome and the stages it is meant for
    expect(seen.sent).toBeGreaterThan(FRAMES_PER_ENV / 10);
    expect(seen.dropped).toBeGreaterThan(FRAMES_PER_ENV / 10);
    expect(seen.peer).toBeGreaterThan(100);
    expect(reasons.size, [...reasons].join(' ')).toBeGreaterThanOrEqual(18);
    expect(events.service_dnat ?? 0).toBeGreaterThan(0);
    expect(events.conntrack_hit ?? 0).toBeGreaterThan(0);
    expect(events.icmp_errors_sent ?? 0).toBeGreaterThan(0);
    expect(events.fragments_sent ?? 0).toBeGreaterThan(0);
    if (kind !== 'host-gw') expect(events[`${kind}_decap`] ?? 0).toBeGreaterThan(0);
    if (noGso) expect(events.gso_segmented ?? 0).toBeGreaterThan(0);
  }, 60_000);
});
