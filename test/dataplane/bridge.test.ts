// The bridge stage (assembly/stages/bridge.ts + tables/mac_table.ts) through
// the release build: learning, forwarding, flooding, aging, capacity, moves,
// and the egress MTU check against GSO super-frames.
import { describe, it, expect } from 'vitest';
import { GSO_SLOT_SIZE } from '../../src/dataplane/dataplane.ts';
import { newDataplane, run, txPorts, udpFrame, eth, ipv4, vnet, podMac, BCAST } from './frames.ts';
import { toHex } from '../util.ts';

const A = podMac(2), B = podMac(3), C = podMac(4), D = podMac(5), E = podMac(6);
const AGING_MS = 300_000; // the Linux bridge's default ageing_time

describe('bridge: learning and forwarding', () => {
  it('learns the source, then forwards unicast to that one port without flooding', () => {
    const dp = newDataplane(4);
    const r1 = run(dp, [{ port: 0, frame: udpFrame(BCAST, A) }]);
    expect(txPorts(r1)).toEqual([1, 2, 3]);
    expect(r1.events).toEqual({ fdb_learned: 1, flooded: 1 });
    expect(dp.fdb(0)).toEqual([{ mac: A, port: 0, ageMs: 0 }]);

    const f = udpFrame(A, B);
    const r2 = run(dp, [{ port: 1, frame: f }]);
    expect(r2.tx).toHaveLength(1);
    expect(r2.tx[0].port).toBe(0);
    expect(toHex(r2.tx[0].frame)).toBe(toHex(f)); // forwarded untouched
    expect(r2.events).toEqual({ fdb_learned: 1 }); // no flooded, no unknown_unicast
    expect(r2.dropTotal).toBe(0);
    expect(r2.ports[1]).toMatchObject({ rx_packets: 1, rx_bytes: f.length });
    expect(r2.ports[0]).toMatchObject({ tx_packets: 1, tx_bytes: f.length });
    expect(dp.fdb(0).map((e) => [e.mac, e.port])).toEqual([[A, 0], [B, 1]]);
  });

  it('floods broadcast, multicast and unknown unicast to every other port, never back to the ingress', () => {
    const dp = newDataplane(4);
    for (let inPort = 0; inPort < 4; inPort++) {
      const others = [0, 1, 2, 3].filter((p) => p !== inPort);
      const src = podMac(10 + inPort);
      const bc = run(dp, [{ port: inPort, frame: udpFrame(BCAST, src) }]);
      expect(txPorts(bc), `broadcast from ${inPort}`).toEqual(others);
      const mc = run(dp, [{ port: inPort, frame: udpFrame('01:00:5e:00:00:fb', src) }]);
      expect(txPorts(mc), `multicast from ${inPort}`).toEqual(others);
      expect(mc.events.unknown_unicast).toBeUndefined();
      const uu = run(dp, [{ port: inPort, frame: udpFrame(podMac(0x77), src) }]);
      expect(txPorts(uu), `unknown unicast from ${inPort}`).toEqual(others);
      expect(uu.events).toMatchObject({ flooded: 1, unknown_unicast: 1 });
      for (const r of [bc, mc, uu]) {
        expect(r.dropTotal).toBe(0);
        expect(new Set(r.tx.map((t) => toHex(t.frame))).size).toBe(1); // the same bytes on every port
      }
    }
  });

  it('floods only to attached ports; a lone port has nowhere to flood (no_destination)', () => {
    const dp = newDataplane(4);
    dp.detachPort(2);
    expect(txPorts(run(dp, [{ port: 0, frame: udpFrame(BCAST, A) }]))).toEqual([1, 3]);
    const lone = newDataplane(1);
    const r = run(lone, [{ port: 0, frame: udpFrame(BCAST, A) }]);
    expect(r.tx).toEqual([]);
    expect(r.drops).toEqual({ no_destination: 1 });
  });

  it('drops unicast whose destination lives on the ingress port (same_port)', () => {
    const dp = newDataplane(4);
    run(dp, [{ port: 0, frame: udpFrame(BCAST, A) }, { port: 0, frame: udpFrame(BCAST, C) }]);
    const r = run(dp, [{ port: 0, frame: udpFrame(C, A) }]);
    expect(r.tx).toEqual([]);
    expect(r.drops).toEqual({ same_port: 1 });
    expect(r.ports[0]).toMatchObject({ rx_packets: 1, rx_drops: 1 });
  });

  it('follows a MAC that moves to another port (fdb_moved)', () => {
    const dp = newDataplane(4);
    run(dp, [{ port: 0, frame: udpFrame(BCAST, A) }]);
    const r = run(dp, [{ port: 2, frame: udpFrame(BCAST, A) }]);
    expect(r.events).toMatchObject({ fdb_moved: 1 });
    expect(r.events.fdb_learned).toBeUndefined();
    expect(dp.fdb(0)).toEqual([{ mac: A, port: 2, ageMs: 0 }]);
    expect(txPorts(run(dp, [{ port: 1, frame: udpFrame(A, B) }]))).toEqual([2]);
  });
});

describe('bridge: aging on the control-plane clock', () => {
  it('an entry is fresh at 299 s, floods again after 300 s, and fdbExpire removes it', () => {
    const dp = newDataplane(4);
    expect(dp.ex.fdbAging()).toBe(AGING_MS);
    dp.setClock(0);
    run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);

    dp.setClock(299_000);
    const fresh = run(dp, [{ port: 0, frame: udpFrame(B, A) }]);
    expect(txPorts(fresh)).toEqual([1]);
    expect(fresh.events.flooded).toBeUndefined();

    dp.setClock(300_001);
    const stale = run(dp, [{ port: 0, frame: udpFrame(B, A) }]);
    expect(txPorts(stale)).toEqual([1, 2, 3]);
    expect(stale.events).toMatchObject({ flooded: 1, unknown_unicast: 1 });
    // aged but still in the table until expired
    expect(dp.fdb(300_001).find((e) => e.mac === B)).toEqual({ mac: B, port: 1, ageMs: 300_001 });

    const before = dp.counters().events.fdb_expired;
    expect(dp.ex.fdbExpire(300_001)).toBe(1); // B only: A was seen at 300.001 s
    expect(dp.counters().events.fdb_expired - before).toBe(1);
    expect(dp.fdb(300_001).map((e) => e.mac)).toEqual([A]);
    expect(dp.ex.fdbCount()).toBe(1);

    // B speaks again: learned anew, and unicast to it works again
    const back = run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);
    expect(back.events).toMatchObject({ fdb_learned: 1 });
    expect(txPorts(run(dp, [{ port: 0, frame: udpFrame(B, A) }]))).toEqual([1]);
  });

  it('traffic from a MAC refreshes it; ages survive the u32 clock wrapping', () => {
    const dp = newDataplane(4);
    dp.setClock(0xffff_f000);
    run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);
    dp.setClock(0x0000_1000); // 8.192 s later, across the wrap
    expect(txPorts(run(dp, [{ port: 0, frame: udpFrame(B, A) }]))).toEqual([1]);
    expect(dp.fdb(0x1000).find((e) => e.mac === B)?.ageMs).toBe(0x2000);
    expect(dp.ex.fdbExpire(0x1000)).toBe(0);
    // refreshed by its own traffic at 200 s: still fresh at 450 s
    dp.setClock(200_000);
    run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);
    dp.setClock(450_000);
    expect(txPorts(run(dp, [{ port: 0, frame: udpFrame(B, A) }]))).toEqual([1]);
  });
});

describe('bridge: table capacity', () => {
  it('a full table learns nothing more (fdb_full) and frames to the unlearned MAC keep flooding', () => {
    const dp = newDataplane(4, { fdbCapacity: 4 });
    expect(dp.ex.fdbCapacity()).toBe(4);
    run(dp, [A, B, C, D].map((m, i) => ({ port: i, frame: udpFrame(BCAST, m) })));
    expect(dp.ex.fdbCount()).toBe(4);
    const r = run(dp, [{ port: 0, frame: udpFrame(BCAST, E) }]);
    expect(r.events).toMatchObject({ fdb_full: 1, flooded: 1 });
    expect(r.events.fdb_learned).toBeUndefined();
    expect(txPorts(r)).toEqual([1, 2, 3]); // its own frames are still forwarded
    expect(dp.ex.fdbCount()).toBe(4);
    expect(dp.fdb(0).map((e) => e.mac)).not.toContain(E);
    const to = run(dp, [{ port: 2, frame: udpFrame(E, C) }]);
    expect(txPorts(to)).toEqual([0, 1, 3]);
    expect(to.events).toMatchObject({ flooded: 1, unknown_unicast: 1 });
    // known MACs still refresh and forward while full
    expect(txPorts(run(dp, [{ port: 3, frame: udpFrame(A, D) }]))).toEqual([0]);
    // expiring makes room again
    dp.setClock(AGING_MS + 1);
    expect(dp.ex.fdbExpire(AGING_MS + 1)).toBe(4);
    expect(run(dp, [{ port: 0, frame: udpFrame(BCAST, E) }]).events).toMatchObject({ fdb_learned: 1 });
  });
});

describe('bridge: egress MTU and GSO super-frames', () => {
  /** A TCP/IPv4 frame with `ipLen` bytes of IPv4 (valid header; TCP checksum not filled). */
  function tcpFrame(dst: string, src: string, ipLen: number): Uint8Array {
    const tcp = new Uint8Array(ipLen - 20);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    return eth(dst, src, 0x0800, ipv4('10.244.0.2', '10.244.0.3', 6, tcp));
  }

  it('a frame one byte over the egress MTU is dropped (oversize); at the MTU it passes', () => {
    const dp = newDataplane(2);
    run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);
    const atMtu = run(dp, [{ port: 0, frame: tcpFrame(B, A, 1500) }]);
    expect(txPorts(atMtu)).toEqual([1]);
    const over = run(dp, [{ port: 0, frame: tcpFrame(B, A, 1501) }]);
    expect(over.tx).toEqual([]);
    expect(over.drops).toEqual({ oversize: 1 });
    expect(over.ports[1]).toMatchObject({ tx_drops: 1 });
  });

  it('the same size as a GSO TCPV4 super-frame is forwarded whole, vnet header and all; so is 64 KiB', () => {
    const dp = newDataplane(2, { slots: 4, slotSize: GSO_SLOT_SIZE });
    run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);
    const h = vnet({ flags: 1, gsoType: 1, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
    for (const ipLen of [1501, 65535]) {
      const f = tcpFrame(B, A, ipLen);
      const plain = run(dp, [{ port: 0, frame: f }]);
      expect(plain.drops, `${ipLen} without GSO`).toEqual({ oversize: 1 });
      const gso = run(dp, [{ port: 0, frame: f, vnet: h }]);
      expect(gso.dropTotal).toBe(0);
      expect(gso.tx).toHaveLength(1);
      expect(gso.tx[0].port).toBe(1);
      expect(gso.tx[0].frame.length).toBe(f.length);
      expect(toHex(gso.tx[0].frame)).toBe(toHex(f));
      expect(toHex(gso.tx[0].vnet)).toBe(toHex(h)); // the offload request travels with it
      expect(gso.events).toMatchObject({ gso_frames: 1 });
      expect(gso.ports[1]).toMatchObject({ tx_packets: 1, tx_bytes: f.length });
    }
  });

  it('a gso_type of 0x80 (ECN bit, no GSO kind) is a bad vnet header, not a licence to skip the MTU check', () => {
    const dp = newDataplane(2, { slots: 4, slotSize: GSO_SLOT_SIZE });
    run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);
    const r = run(dp, [{ port: 0, frame: tcpFrame(B, A, 3000), vnet: vnet({ gsoType: 0x80, gsoSize: 1448 }) }]);
    expect(r.tx).toEqual([]);
    expect(r.drops).toEqual({ bad_vnet_hdr: 1 });
  });

  // One frame, one drop: a flood too big for every egress port counts one
  // oversize drop and one rx_drop on its ingress port (per-port tx_drops
  // still show each egress that refused it).
  it('a flood too big for every port counts exactly one drop', () => {
    const dp = newDataplane(4);
    const r = run(dp, [{ port: 0, frame: tcpFrame(BCAST, A, 1600) }]);
    expect(r.tx).toEqual([]);
    expect(r.dropTotal).toBe(1);
    expect(r.ports[0]).toMatchObject({ rx_drops: 1 });
  });
});
