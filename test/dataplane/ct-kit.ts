// Conntrack test kit: TCP segments with chosen sequence numbers, window and
// window scale; node 1 (service-kit) with a second backend B2 on its bridge;
// one client connection to VIP:80 driven from either side. Used by
// service-conntrack.test.ts and the kernel oracle test/e2e/ct-oracle.test.ts.
import { expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import { runNode, podFrame, ip4, pseudo, arpRequest, N1, POD } from './overlay-kit.ts';
import { VIP, B1, B1_MAC, B1_PORT, TCP, cat, l4At, setup } from './service-kit.ts';
import { refChecksum } from '../util.ts';

export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
export const B2 = '10.244.0.4', B2_MAC = '0a:58:0a:f4:00:04', B2_PORT = 2;
export const BACKEND: Record<string, { mac: string; port: number }> = { [B1]: { mac: B1_MAC, port: B1_PORT }, [B2]: { mac: B2_MAC, port: B2_PORT } };

export interface SegOpts { win?: number; len?: number; wscale?: number }
/** A TCP segment with the given sequence numbers, window, payload length and (on SYNs) window scale option. */
export function seg(src: string, dst: string, sport: number, dport: number, flags: number, seq: number, ack: number, o: SegOpts = {}): Uint8Array {
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
export function node(): Dataplane {
  const [n1] = setup();
  n1.attachPort(B2_PORT, 1450);
  n1.setNeighbor(B2, B2_MAC);
  expect(runNode(n1, [{ port: B2_PORT, frame: arpRequest(B2_MAC, B2, N1.gw) }]).tx).toHaveLength(1);
  return n1;
}

/** One client connection N1.pod:sport -> VIP:80; `c` sends from the client, `s` from backend `b` (to the client). */
export function conn(n1: Dataplane, sport: number) {
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

