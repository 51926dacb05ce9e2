// Frame builders and a run-and-diff harness for the stage tests, which go
// through the real release build via Dataplane (src/dataplane/dataplane.ts).
import { Dataplane, MTU_SLOT_SIZE, type DataplaneOptions, type CounterSnapshot } from '../../src/dataplane/dataplane.ts';
import { parseMac } from '../../src/model/addr.ts';
import { refChecksum } from '../util.ts';

export const GW_IP = '10.244.0.1';
export const GW_MAC = '0a:58:0a:f4:00:01';
/** Pod n: MAC 0a:58:0a:f4:00:nn, IP 10.244.0.n (n >= 2). */
export const podMac = (n: number) => `0a:58:0a:f4:00:${n.toString(16).padStart(2, '0')}`;
export const podIp = (n: number) => `10.244.0.${n}`;
export const BCAST = 'ff:ff:ff:ff:ff:ff';

const ipBytes = (a: string) => a.split('.').map(Number);

export function eth(dst: string, src: string, type: number, payload: Uint8Array = new Uint8Array(46)): Uint8Array {
  const b = new Uint8Array(14 + payload.length);
  b.set(parseMac(dst), 0);
  b.set(parseMac(src), 6);
  b[12] = type >> 8;
  b[13] = type & 0xff;
  b.set(payload, 14);
  return b;
}

/** An IPv4 packet with a correct header checksum (20-byte header, TTL 64). */
export function ipv4(src: string, dst: string, proto: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  b[0] = 0x45;
  b[2] = b.length >> 8;
  b[3] = b.length & 0xff;
  b[8] = 64;
  b[9] = proto;
  b.set(ipBytes(src), 12);
  b.set(ipBytes(dst), 16);
  const c = refChecksum(b.subarray(0, 20));
  b[10] = c >> 8;
  b[11] = c & 0xff;
  b.set(payload, 20);
  return b;
}

/** A UDP/IPv4 frame of `ipLen` bytes of IPv4 (header included); UDP checksum 0. */
export function udpFrame(dstMac: string, srcMac: string, ipLen = 64, dstIp = podIp(99), srcIp = podIp(98)): Uint8Array {
  const udp = new Uint8Array(ipLen - 20);
  udp[0] = 0x30; udp[1] = 0x39; udp[2] = 0x00; udp[3] = 0x35;
  udp[4] = udp.length >> 8; udp[5] = udp.length & 0xff;
  return eth(dstMac, srcMac, 0x0800, ipv4(srcIp, dstIp, 17, udp));
}

/** An ICMP message with its checksum filled in. */
export function icmp(type: number, code: number, rest: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  b[0] = type;
  b[1] = code;
  new DataView(b.buffer).setUint32(4, rest >>> 0);
  b.set(payload, 8);
  const c = refChecksum(b);
  b[2] = c >> 8;
  b[3] = c & 0xff;
  return b;
}

export interface Vnet { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }
export function vnet(v: Vnet): Uint8Array {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, v.flags ?? 0);
  dv.setUint8(1, v.gsoType ?? 0);
  dv.setUint16(2, v.hdrLen ?? 0, true);
  dv.setUint16(4, v.gsoSize ?? 0, true);
  dv.setUint16(6, v.csumStart ?? 0, true);
  dv.setUint16(8, v.csumOffset ?? 0, true);
  return b;
}

/** A data plane with ports [0, nPorts) attached (MTU 1500) and the gateway set. */
export function newDataplane(nPorts = 4, opts: DataplaneOptions & { mtu?: number } = {}): Dataplane {
  const dp = new Dataplane({ slots: 64, slotSize: MTU_SLOT_SIZE, maxPorts: 8, ...opts });
  for (let p = 0; p < nPorts; p++) dp.attachPort(p, opts.mtu ?? 1500);
  dp.setGateway(GW_IP, GW_MAC);
  return dp;
}

export interface In { port: number; frame: Uint8Array; vnet?: Uint8Array }
export interface Out { slot: number; port: number; frame: Uint8Array; vnet: Uint8Array }
export interface Result {
  tx: Out[];
  /** counters that moved: name -> delta (zero deltas left out) */
  drops: Record<string, number>;
  events: Record<string, number>;
  ports: Record<string, number>[];
  /** sum of all drop deltas */
  dropTotal: number;
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const key of Object.keys(b)) if (b[key] !== a[key]) d[key] = b[key] - a[key];
  return d;
}
export function delta(before: CounterSnapshot, after: CounterSnapshot): Omit<Result, 'tx'> {
  const drops = diff(before.drops, after.drops);
  return {
    drops,
    events: diff(before.events, after.events),
    ports: after.ports.map((p, i) => diff(before.ports[i], p)),
    dropTotal: Object.values(drops).reduce((s, x) => s + x, 0),
  };
}

/** Put `frames` in slots 0.., process one batch, return what came out and which counters moved. */
export function run(dp: Dataplane, frames: In[]): Result {
  frames.forEach((f, i) => dp.putFrame(i, f.port, f.frame, f.vnet));
  const before = dp.counters();
  const n = dp.process(frames.length);
  const tx: Out[] = [];
  for (let i = 0; i < n; i++) {
    const t = dp.txBytes(i);
    tx.push({ slot: dp.txEntry(i).slot, port: t.port, frame: t.frame, vnet: t.vnet });
  }
  return { tx, ...delta(before, dp.counters()) };
}

export const txPorts = (r: Result) => r.tx.map((t) => t.port).sort((a, b) => a - b);
