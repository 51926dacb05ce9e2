// Shared by the Service NAT tests (service.test.ts) and their tshark check
// (test/tshark/service.test.ts): two VXLAN nodes with a backend pod on node
// 1, TCP segment builders and a parser that verifies checksums.
import { expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from './frames.ts';
import { twoNodes, runNode, podFrame, ip4, ipAt4, pseudo, arpRequest, rd16, N1, POD } from './overlay-kit.ts';
import { refChecksum } from '../util.ts';

export const VIP = '10.96.0.10';
export const B1 = '10.244.0.3', B1_MAC = '0a:58:0a:f4:00:03', B1_PORT = 1; // a backend pod on node 1
export const SYN = 0x02, ACK = 0x10, PSH = 0x08;
export const TCP = 6, UDP = 17;

export const cat = (...parts: Uint8Array[]) => {
  const b = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { b.set(p, o); o += p.length; }
  return b;
};

/** A TCP segment (20-byte header) with a correct checksum for src -> dst. */
export function tcpSeg(src: string, dst: string, sport: number, dport: number, flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  // one consistent handshake (conntrack tracks windows): the client's ISN 0x01000000, the server's
  // 0x02000000; a SYN+ACK answers the client's SYN, other segments are the client's after it
  const synAck = (flags & (SYN | ACK)) === (SYN | ACK);
  v.setUint32(4, synAck ? 0x02000000 : flags & SYN ? 0x01000000 : 0x01000001);
  v.setUint32(8, synAck ? 0x01000001 : flags & ACK ? 0x02000001 : 0);
  b[12] = 5 << 4;
  b[13] = flags;
  v.setUint16(14, 64240);
  b.set(payload, 20);
  v.setUint16(16, refChecksum(cat(pseudo(src, dst, TCP, b.length), b)));
  return b;
}

/** The IPv4 packet at `at`: addresses, ports, and whether both checksums verify. */
export function l4At(frame: Uint8Array, at: number) {
  const v = ipAt4(frame, at);
  const p = v.payload;
  const csumOff = v.proto === TCP ? 16 : 6;
  const csum = rd16(p, csumOff);
  const l4Ok = v.proto === UDP && csum === 0 ? true : refChecksum(cat(pseudo(v.src, v.dst, v.proto, p.length), p)) === 0;
  return { src: v.src, dst: v.dst, sport: rd16(p, 0), dport: rd16(p, 2), proto: v.proto, headerOk: v.headerOk, l4Ok, csum, ttl: v.ttl };
}

/** Nodes 1 and 2 (VXLAN); node 1 also has backend pod B1 on port 1, already heard from. */
export function setup(): [Dataplane, Dataplane] {
  const [n1, n2] = twoNodes('vxlan');
  n1.attachPort(B1_PORT, 1450);
  n1.setNeighbor(B1, B1_MAC);
  expect(runNode(n1, [{ port: B1_PORT, frame: arpRequest(B1_MAC, B1, N1.gw) }]).tx).toHaveLength(1);
  n1.setServiceSeed(42);
  return [n1, n2];
}

export const clientSyn = (sport: number, flags = SYN) => podFrame(N1, { dst: VIP, proto: TCP, payload: tcpSeg(N1.pod, VIP, sport, 80, flags) });
/** Node 1 sends a client packet; the one frame it produces. */
export function send(n1: Dataplane, frame: Uint8Array, vnet?: Uint8Array) {
  const r = runNode(n1, [{ port: POD, frame, vnet }]);
  expect(r.drops).toEqual({});
  expect(r.tx).toHaveLength(1);
  return { r, t: r.tx[0] };
}

