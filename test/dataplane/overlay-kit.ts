// Two nodes sharing one memory (createNodes), wired as flannel wires them,
// and the packet builders and parsers the overlay tests need. A frame node 1
// sends on its underlay port is handed to node 2 the way the engine's
// in-process fabric does it (src/dataplane/engine.ts handOver): by address,
// at rx entry `dp.slots`, then processRange(dp.slots, 1).
import { createNodes, type Dataplane, type DataplaneOptions, type OverlayKind } from '../../src/dataplane/dataplane.ts';
import { parseMac } from '../../src/model/addr.ts';
import { delta, eth, type Result, type In } from './frames.ts';
import { refChecksum, rd16, rd32, ip } from '../util.ts';

export interface NodeSpec {
  gw: string; gwMac: string;
  ul: string; ulMac: string;
  vtep: string;
  cidr: string;
  pod: string; podMac: string;
}
// the addresses scratch/mn.ts (and flannel's defaults) use
export const N1: NodeSpec = {
  gw: '10.244.0.1', gwMac: '0a:58:0a:f4:00:01', ul: '172.31.255.1', ulMac: '0a:58:ac:1f:ff:01',
  vtep: '0e:00:00:00:00:01', cidr: '10.244.0.0/24', pod: '10.244.0.2', podMac: '0a:58:0a:f4:00:02',
};
export const N2: NodeSpec = {
  gw: '10.244.1.1', gwMac: '0a:58:0a:f4:01:01', ul: '172.31.255.2', ulMac: '0a:58:ac:1f:ff:02',
  vtep: '0e:00:00:00:00:02', cidr: '10.244.1.0/24', pod: '10.244.1.2', podMac: '0a:58:0a:f4:01:02',
};
/** A third node's underlay identity: nobody's neighbour here, frames for it are not ours. */
export const N3_UL = '172.31.255.3', N3_UL_MAC = '0a:58:ac:1f:ff:03';

export const POD = 0;   // each node's pod port
export const UL = 7;    // each node's underlay port
export const UL_MTU = 1500;
export const TUNNEL_MTU: Record<Exclude<OverlayKind, 'none'>, number> = { vxlan: 1450, ipip: 1480, 'host-gw': 1500 };
/** Where the inner IPv4 header starts in an underlay frame. */
export const INNER_IP: Record<Exclude<OverlayKind, 'none'>, number> = { vxlan: 14 + 20 + 8 + 8 + 14, ipip: 34, 'host-gw': 14 };

export type Kind = Exclude<OverlayKind, 'none'>;
export interface VxlanOpts { vni?: number; port?: number }

export function programNode(dp: Dataplane, me: NodeSpec, peer: NodeSpec, kind: Kind, o: VxlanOpts = {}): void {
  dp.attachPort(POD, TUNNEL_MTU[kind]);
  dp.attachPort(UL, UL_MTU, 'underlay');
  dp.setGateway(me.gw, me.gwMac);
  dp.setUnderlay(UL, me.ul, me.ulMac);
  dp.setOverlay(kind, { vni: o.vni ?? 1, port: o.port ?? 8472, vtepMac: me.vtep });
  dp.addRoute(me.cidr, 'local');
  dp.addRoute(peer.cidr, kind, peer.ul, peer.vtep);
  dp.setNeighbor(peer.ul, peer.ulMac);
  dp.setNeighbor(me.pod, me.podMac);
}

/**
 * Nodes 1 and 2 with `kind` between them; each has already heard from its pod
 * (an ARP request for its gateway), so the pod MAC is learned on POD and
 * delivery is a unicast, not a flood.
 */
export function twoNodes(kind: Kind, o: VxlanOpts & Omit<DataplaneOptions, 'memory' | 'base'> = {}): [Dataplane, Dataplane] {
  const { vni, port, ...dpOpts } = o;
  const [n1, n2] = createNodes(2, { slots: 8, maxPorts: 8, ...dpOpts });
  programNode(n1, N1, N2, kind, { vni, port });
  programNode(n2, N2, N1, kind, { vni, port });
  for (const [dp, me] of [[n1, N1], [n2, N2]] as const) {
    const r = runNode(dp, [{ port: POD, frame: arpRequest(me.podMac, me.pod, me.gw) }]);
    if (r.tx.length !== 1) throw new Error('pod ARP for its gateway was not answered');
  }
  return [n1, n2];
}

/** A tx entry as written: where it lives (for a hand-over) and a copy of its bytes. */
export interface Sent { slot: number; port: number; start: number; length: number; vnet: Uint8Array; frame: Uint8Array }
export interface NodeResult extends Omit<Result, 'tx'> { tx: Sent[] }

function collect(dp: Dataplane, from: number, to: number): Sent[] {
  const out: Sent[] = [];
  for (let k = from; k < to; k++) {
    const e = dp.txEntry(k);
    const t = dp.txBytes(k);
    out.push({ ...e, vnet: t.vnet, frame: t.frame });
  }
  return out;
}

/** Frames into slots 0.., one batch (tx list cleared first), what came out and which counters moved. */
export function runNode(dp: Dataplane, frames: In[]): NodeResult {
  frames.forEach((f, i) => dp.putFrame(i, f.port, f.frame, f.vnet));
  const before = dp.counters();
  const n = dp.process(frames.length);
  return { tx: collect(dp, 0, n), ...delta(before, dp.counters()) };
}

/**
 * The fabric: give `peer` the frame of tx entry `e` (which another node queued
 * for its underlay port) by address, as engine.ts does. The peer's tx list
 * is cleared first (the engine has written everything queued before).
 */
export function handOver(peer: Dataplane, e: Sent): NodeResult {
  peer.txClear();
  const x = peer.slots;
  peer.rxAddr[x] = e.start;
  peer.rxLen[x] = e.length;
  peer.rxPort[x] = UL;
  const before = peer.counters();
  const n = peer.processRange(x, 1);
  return { tx: collect(peer, 0, n), ...delta(before, peer.counters()) };
}

// ---- builders ----

const ipb = (a: string) => a.split('.').map(Number);

export interface Ip4 { src: string; dst: string; proto: number; payload: Uint8Array; ttl?: number; df?: boolean; mf?: boolean; offset?: number; id?: number }
/** An IPv4 packet (20-byte header) with a correct header checksum. `offset` in bytes (a multiple of 8). */
export function ip4(o: Ip4): Uint8Array {
  const b = new Uint8Array(20 + o.payload.length);
  const v = new DataView(b.buffer);
  b[0] = 0x45;
  v.setUint16(2, b.length);
  v.setUint16(4, o.id ?? 0x1234);
  v.setUint16(6, (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.offset ?? 0) >> 3));
  b[8] = o.ttl ?? 64;
  b[9] = o.proto;
  b.set(ipb(o.src), 12);
  b.set(ipb(o.dst), 16);
  v.setUint16(10, refChecksum(b.subarray(0, 20)));
  b.set(o.payload, 20);
  return b;
}

/** Recognisable payload bytes: i * 7 + seed. */
export function pattern(n: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

/** The IPv4 pseudo-header (RFC 768/793) a transport checksum covers. */
export const pseudo = (src: string, dst: string, proto: number, len: number) => {
  const p = new Uint8Array(12);
  p.set(ipb(src), 0);
  p.set(ipb(dst), 4);
  p[9] = proto;
  p[10] = len >> 8;
  p[11] = len & 0xff;
  return p;
};
const concat = (...parts: Uint8Array[]) => {
  const b = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { b.set(p, o); o += p.length; }
  return b;
};

/** A UDP datagram for `src` -> `dst` with its checksum filled in (RFC 768), or none (0) when `noCsum`. */
export function udp(src: string, dst: string, sport: number, dport: number, payload: Uint8Array, noCsum = false): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, b.length);
  b.set(payload, 8);
  // 0 means "no checksum" in UDP over IPv4 (RFC 768)
  if (!noCsum) v.setUint16(6, refChecksum(concat(pseudo(src, dst, 17, b.length), b)) || 0xffff);
  return b;
}

/**
 * A TCP segment whose checksum field holds only the folded pseudo-header sum:
 * what a guest with checksum offload hands its TAP with NEEDS_CSUM set.
 */
export function tcpPartial(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, 1000);
  v.setUint32(8, 2000);
  b[12] = 5 << 4;
  b[13] = 0x18; // PSH ACK
  v.setUint16(14, 65535);
  v.setUint16(16, ~refChecksum(pseudo(src, dst, 6, b.length)) & 0xffff);
  b.set(payload, 20);
  return b;
}

/** TCP header with NOP, NOP, timestamps: what Linux sends on an established connection. */
export const TCP_TS_HLEN = 32;
const THL = TCP_TS_HLEN;

export interface TcpOpts { sport?: number; dport?: number; seq?: number; ack?: number; flags?: number; payload: Uint8Array; src?: string; dst?: string }
/**
 * A TCP segment with the timestamp option whose checksum field holds only
 * the folded pseudo-header sum over its whole length: what a Linux guest with
 * TSO hands its TAP (tcp_v4_send_check: th->check = ~tcp_v4_check(len, ...)).
 */
export function tcpSuper(o: TcpOpts): Uint8Array {
  const src = o.src ?? N1.pod, dst = o.dst ?? N2.pod;
  const b = new Uint8Array(THL + o.payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, o.sport ?? 40000);
  v.setUint16(2, o.dport ?? 5201);
  v.setUint32(4, o.seq ?? 0xffff0000); // wraps within a 64 KiB super-frame
  v.setUint32(8, o.ack ?? 0x01020304);
  b[12] = (THL / 4) << 4;
  b[13] = o.flags ?? 0x18; // PSH ACK
  v.setUint16(14, 502);
  b.set([1, 1, 8, 10], 20); // NOP NOP TS len 10
  v.setUint32(24, 0x11223344); // TSval
  v.setUint32(28, 0x55667788); // TSecr
  v.setUint16(16, ~refChecksum(pseudo(src, dst, 6, b.length)) & 0xffff);
  b.set(o.payload, THL);
  return b;
}

/** An ICMP message with its checksum filled in (the same builder the single-node tests use). */
export { icmp as icmpMsg } from './frames.ts';

export function arpRequest(senderMac: string, senderIp: string, targetIp: string, dstMac = 'ff:ff:ff:ff:ff:ff'): Uint8Array {
  const a = new Uint8Array(28);
  a.set([0, 1, 8, 0, 6, 4, 0, 1]);
  a.set(parseMac(senderMac), 8);
  a.set(ipb(senderIp), 14);
  a.set(ipb(targetIp), 24);
  return eth(dstMac, senderMac, 0x0806, a);
}

/** A pod's frame on node `me` to `dstIp`, sent to its gateway MAC. */
export function podFrame(me: NodeSpec, p: Omit<Ip4, 'src'> & { src?: string }): Uint8Array {
  return eth(me.gwMac, me.podMac, 0x0800, ip4({ src: me.pod, ...p }));
}

export interface Vxlan { dstMac: string; srcMac: string; srcIp: string; dstIp: string; sport?: number; dport?: number; vni?: number; flags?: number; inner: Uint8Array }
/** A VXLAN frame as another node would send it (outer UDP checksum 0). */
export function vxlanFrame(o: Vxlan): Uint8Array {
  const vx = new Uint8Array(8 + o.inner.length);
  vx[0] = o.flags ?? 0x08;
  const vni = o.vni ?? 1;
  vx[4] = (vni >> 16) & 0xff; vx[5] = (vni >> 8) & 0xff; vx[6] = vni & 0xff;
  vx.set(o.inner, 8);
  const u = new Uint8Array(8 + vx.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, o.sport ?? 40000);
  v.setUint16(2, o.dport ?? 8472);
  v.setUint16(4, u.length);
  u.set(vx, 8);
  return eth(o.dstMac, o.srcMac, 0x0800, ip4({ src: o.srcIp, dst: o.dstIp, proto: 17, payload: u }));
}

// ---- parsers ----

export const macAt = (b: Uint8Array, o: number) => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
export const ipAt = (b: Uint8Array, o: number) => Array.from(b.subarray(o, o + 4)).join('.');
export { rd16, rd32, ip };

export interface IpView { at: number; ihl: number; total: number; id: number; df: boolean; mf: boolean; offset: number; ttl: number; proto: number; src: string; dst: string; headerOk: boolean; payload: Uint8Array; bytes: Uint8Array }
/** The IPv4 header at `at` in `b`. */
export function ipAt4(b: Uint8Array, at: number): IpView {
  const ihl = (b[at] & 0xf) * 4;
  const total = rd16(b, at + 2);
  const ff = rd16(b, at + 6);
  return {
    at, ihl, total, id: rd16(b, at + 4), df: (ff & 0x4000) !== 0, mf: (ff & 0x2000) !== 0, offset: (ff & 0x1fff) * 8,
    ttl: b[at + 8], proto: b[at + 9], src: ipAt(b, at + 12), dst: ipAt(b, at + 16),
    headerOk: refChecksum(b.subarray(at, at + ihl)) === 0,
    payload: b.subarray(at + ihl, at + total), bytes: b.subarray(at, at + total),
  };
}

/** The vnet header's fields (little-endian, as a TAP writes them). */
export function vnetFields(v: Uint8Array) {
  const d = new DataView(v.buffer, v.byteOffset, 10);
  return { flags: v[0], gsoType: v[1], hdrLen: d.getUint16(2, true), gsoSize: d.getUint16(4, true), csumStart: d.getUint16(6, true), csumOffset: d.getUint16(8, true) };
}

