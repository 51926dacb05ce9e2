// 20,000 random and mutated frames (seeded, reproducible) through
// processBatch on the release build: nothing traps, and the counters add up
// (every frame leaves through a tx entry or is counted under one drop reason).
import { describe, it, expect } from 'vitest';
import { GSO_SLOT_SIZE } from '../../src/dataplane/dataplane.ts';
import { newDataplane, run, eth, vnet, GW_MAC, BCAST, podMac, type In, type Result } from './frames.ts';
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
