// The socket underlay (src/dataplane/socket-underlay.ts) between two data
// planes, without the forwarding worker: socket-underlay-run.ts, run inside
// a pw- namespace of its own (so its loopback traffic stays there), sends a
// pod's ping from node 1 through a real UDP (VXLAN) or raw IP-in-IP socket
// to node 2 and back, and reports what arrived: the synthetic outer headers
// the receiver writes in front of the datagram (valid IPv4 checksum, the
// peer's address and MAC, this node's), the inner frame exactly as sent, and
// the data plane delivering it to the pod. Also what the adapter refuses:
// frames for a MAC no peer has, frames that are not the tunnel's, datagrams
// from strangers or too big for a slot. Then the batched paths: a TCP
// super-frame node 1 segments leaves in one UDP GSO send and arrives in one
// UDP_GRO read (loopback takes the whole GSO packet), every datagram
// byte-identical to what node 1 queued; the same with both offloads off
// (sendmmsg, one datagram a read); and flows spread over the pool's source
// ports, each flow on one. Root: namespaces and a raw socket.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { isRoot, runProgram } from '../helpers/lab.ts';

if (!isRoot) console.warn('test/dataplane/socket-underlay.test.ts: skipped — needs root (a network namespace, a raw IP-in-IP socket); run as root (CI is root)');

const NS = 'pw-sockul';
const PORT = 47999;
const RUN = fileURLToPath(new URL('./socket-underlay-run.ts', import.meta.url));
const EAGAIN = 11;

interface Crossing {
  got: number;
  synthetic: {
    vnetZero: boolean; ethDst: string; ethSrc: string; ethType: number;
    outer: { src: string; dst: string; proto: number; ttl: number; total: number; headerOk: boolean; frameBytes: number };
    udp?: { sport: number; dport: number; length: number; checksum: number };
    sameAsSent: boolean;
  };
  delivered: { port: number; ethDst: string; src: string; dst: string; ttl: number; proto: number; headerOk: boolean }[];
  counters: Record<string, number>;
}
type Stats = Record<string, number | string | number[]>;
interface Scenario {
  there: Crossing;
  back: Crossing;
  afterRefusals: number;
  stray?: { unknown: number; tooBig: number };
  stats: Record<'a' | 'b', Stats>;
}
interface SuperFrame {
  segments: number; sizes: number[]; received: number; identical: boolean;
  sourcePorts: number[]; pool: number[]; stats: Record<'a' | 'b', Stats>;
}
interface Result {
  vxlan: Scenario; ipip: Scenario; gsoGro: SuperFrame; fallback: SuperFrame;
  flows: { byFlow: number[]; pool: number[] };
}

// the run's addresses (overlay-kit's N1/N2 with loopback underlay addresses)
const UL = { n1: '127.0.0.1', n2: '127.0.0.2' };
const UL_MAC = { n1: '0a:58:ac:1f:ff:01', n2: '0a:58:ac:1f:ff:02' };
const POD = { n1: '10.244.0.2', n2: '10.244.1.2' };
const POD_MAC = { n1: '0a:58:0a:f4:00:02', n2: '0a:58:0a:f4:01:02' };

describe.skipIf(!isRoot)('socket underlay between two data planes (root)', () => {
  let result: Result;

  beforeAll(async () => {
    await runProgram('ip', ['netns', 'del', NS]);
    for (const args of [['netns', 'add', NS], ['-n', NS, 'link', 'set', 'lo', 'up']]) {
      const r = await runProgram('ip', args);
      if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    }
    const r = await runProgram('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', RUN, String(PORT)], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`socket-underlay-run.ts failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  });
  afterAll(async () => {
    await runProgram('ip', ['netns', 'del', NS]);
  });

  for (const kind of ['vxlan', 'ipip'] as const) {
    describe(kind, () => {
      it('node 1 -> node 2: the datagram arrives behind synthetic outer headers the data plane accepts', () => {
        const c = result[kind].there;
        const hdr = kind === 'vxlan' ? 14 + 20 + 8 : 14;
        expect(c.got).toBeGreaterThan(10 + hdr);
        expect(c.synthetic).toMatchObject({
          vnetZero: true,
          ethDst: UL_MAC.n2, ethSrc: UL_MAC.n1, ethType: 0x0800,
          outer: { src: UL.n1, dst: UL.n2, proto: kind === 'vxlan' ? 17 : 4, headerOk: true },
          sameAsSent: true,
        });
        expect(c.synthetic.outer.total).toBe(c.synthetic.outer.frameBytes);
        if (kind === 'vxlan') {
          // from one of the sender's sending sockets (an ephemeral port) to the VXLAN port; no checksum (the kernel checked the real one)
          expect(c.synthetic.udp).toEqual({ sport: expect.any(Number), dport: PORT, length: c.synthetic.outer.total - 20, checksum: 0 });
          expect(result.vxlan.stats.a.sourcePorts).toContain(c.synthetic.udp!.sport);
        } else {
          // the kernel's own outer header, as received: TTL 64 from the sender's stack
          expect(c.synthetic.outer.ttl).toBe(64);
        }
        expect(c.delivered).toEqual([{ port: 0, ethDst: POD_MAC.n2, src: POD.n1, dst: POD.n2, ttl: 62, proto: 1, headerOk: true }]);
        expect(c.counters[`${kind}_decap`]).toBe(1);
      });

      it('node 2 -> node 1 the same way', () => {
        const c = result[kind].back;
        expect(c.synthetic).toMatchObject({ ethDst: UL_MAC.n1, ethSrc: UL_MAC.n2, outer: { src: UL.n2, dst: UL.n1, headerOk: true }, sameAsSent: true });
        expect(c.delivered).toEqual([{ port: 0, ethDst: POD_MAC.n1, src: POD.n2, dst: POD.n1, ttl: 62, proto: 1, headerOk: true }]);
      });

      it('refuses to send a frame for a MAC no peer has, or one that is not the tunnel\'s; counts both', () => {
        const { a } = result[kind].stats;
        expect(result[kind].afterRefusals).toBe(-EAGAIN); // nothing more arrived
        expect(a).toMatchObject({ kind, txPackets: 1, txNoPeer: 1, txNotTunnel: 1, txErrors: 0, rxPackets: 1, rxErrors: 0 });
        // IP-in-IP has no ports to spread flows over: one socket
        expect((a.sourcePorts as number[]).length).toBe(kind === 'vxlan' ? 8 : 0);
      });
    });
  }

  it('vxlan: drops (and counts) a datagram from an address that is no node\'s, and one too big for a slot', () => {
    const s = result.vxlan;
    expect(s.stray).toEqual({ unknown: 0, tooBig: 0 });
    expect(s.stats.b).toMatchObject({ rxPackets: 1, rxUnknownPeer: 1, rxTooBig: 1, rxErrors: 0 });
  });

  it('a segmented super-frame leaves in ONE UDP GSO send and arrives in one UDP_GRO read; every datagram byte-identical, in order', () => {
    const g = result.gsoGro;
    // 40000 bytes at gso_size 1398: 29 segments, each VXLAN header + inner Ethernet/IPv4/TCP(+timestamps) + payload
    expect(g.segments).toBe(29);
    expect(new Set(g.sizes.slice(0, -1))).toEqual(new Set([8 + 14 + 20 + 32 + 1398]));
    expect(g.sizes[28]).toBe(8 + 14 + 20 + 32 + (40000 - 28 * 1398));
    expect([g.received, g.identical]).toEqual([29, true]);
    expect(g.stats.a).toMatchObject({ txPath: 'udp-gso', txSends: 1, txGsoSends: 1, txGsoRefused: 0, txPackets: 29, txErrors: 0 });
    expect(g.stats.b).toMatchObject({ rxPath: 'udp-gro', rxPackets: 29, rxErrors: 0, rxTooBig: 0 });
    expect(g.stats.b.rxGroBatches).toBeGreaterThanOrEqual(1);
    // one flow: one source port, one of the pool's
    expect(g.sourcePorts).toHaveLength(1);
    expect(g.pool).toContain(g.sourcePorts[0]);
  });

  it('with UDP GSO and GRO off: the same datagrams through one sendmmsg, one a read', () => {
    const g = result.fallback;
    expect([g.segments, g.received, g.identical]).toEqual([29, 29, true]);
    expect(g.stats.a).toMatchObject({ txPath: 'sendmmsg', txSends: 1, txGsoSends: 0, txPackets: 29, txErrors: 0 });
    expect(g.stats.b).toMatchObject({ rxPath: 'recvmsg', rxGroBatches: 0, rxPackets: 29 });
  });

  it('flows are spread over the pool\'s source ports, each flow keeping its own', () => {
    const { byFlow, pool } = result.flows;
    expect(byFlow).toHaveLength(32);
    for (const p of byFlow) expect(pool).toContain(p); // -1 (a flow on two ports) or an errno would not be
    // 32 flows hashed onto 8 ports: well spread, not all on a few
    expect(new Set(byFlow).size).toBeGreaterThanOrEqual(5);
  });
});
