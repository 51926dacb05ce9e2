// The socket underlay (src/dataplane/socket-underlay.ts) between two data
// planes, without the forwarding worker: socket-underlay-run.ts, run inside
// a pw- namespace of its own (so its loopback traffic stays there), sends a
// pod's ping from node 1 through a real UDP (VXLAN) or raw IP-in-IP socket
// to node 2 and back, and reports what arrived: the synthetic outer headers
// the receiver writes in front of the datagram (valid IPv4 checksum, the
// peer's address and MAC, this node's), the inner frame exactly as sent, and
// the data plane delivering it to the pod. Also what the adapter refuses:
// frames for a MAC no peer has, frames that are not the tunnel's, datagrams
// from strangers or too big for a slot. Root: namespaces and a raw socket.
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
interface Scenario {
  there: Crossing;
  back: Crossing;
  afterRefusals: number;
  stray?: { unknown: number; tooBig: number };
  stats: Record<'a' | 'b', Record<string, number | string>>;
}

// the run's addresses (overlay-kit's N1/N2 with loopback underlay addresses)
const UL = { n1: '127.0.0.1', n2: '127.0.0.2' };
const UL_MAC = { n1: '0a:58:ac:1f:ff:01', n2: '0a:58:ac:1f:ff:02' };
const POD = { n1: '10.244.0.2', n2: '10.244.1.2' };
const POD_MAC = { n1: '0a:58:0a:f4:00:02', n2: '0a:58:0a:f4:01:02' };

describe.skipIf(!isRoot)('socket underlay between two data planes (root)', () => {
  let result: Record<'vxlan' | 'ipip', Scenario>;

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
          // from the sender's socket (bound to the VXLAN port) to the VXLAN port; no checksum (the kernel checked the real one)
          expect(c.synthetic.udp).toEqual({ sport: PORT, dport: PORT, length: c.synthetic.outer.total - 20, checksum: 0 });
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
      });
    });
  }

  it('vxlan: drops (and counts) a datagram from an address that is no node\'s, and one too big for a slot', () => {
    const s = result.vxlan;
    expect(s.stray).toEqual({ unknown: 0, tooBig: 0 });
    expect(s.stats.b).toMatchObject({ rxPackets: 1, rxUnknownPeer: 1, rxTooBig: 1, rxErrors: 0 });
  });
});
