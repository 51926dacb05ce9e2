// Every typed view over the data plane's WebAssembly memory, and the decoders
// of what it holds: the frame lists, counters, forwarding database, routes,
// neighbours, Service table, conntrack entries, trace ring and Maglev tables.
// This is the only TypeScript that reads or writes that memory by offset; the
// offsets, sizes and flag bits come from layout.ts (generated from assembly/),
// the table bases and capacities from the module's exports.
import { Frame, Virtio, MacTable, Fib, Neighbors, Services, Conntrack, Trace } from './layout.ts';
import { CT_STATES, PROTO_NAME, ROUTE_KIND_NAME, type CtStateName, type RouteKind, type ServiceProto } from './kinds.ts';
import type { DataplaneExports } from './wasm.ts';
import { intToIpv4, ipv4ToInt, bigIntToMac } from '../model/addr.ts';

/** Read an AssemblyScript string (UTF-16, byte length stored just before it). */
export function readString(memory: WebAssembly.Memory, ptr: number): string {
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(memory.buffer, ptr, bytes).toString('utf16le');
}

// ---- frames and the frame lists (assembly/frame.ts) ----

/** Bytes of the virtio-net header in front of every frame. */
export const VNET_HLEN = Virtio.VNET_HLEN;
/** tx entry slot value of a generated frame */
export const GEN_SLOT = Frame.GEN_SLOT;
/**
 * A tx entry's size and fields in 32-bit words, for the loops that index the
 * tx list directly (the forwarding loop, the capture tap): copy them into
 * locals once, outside the per-frame loop.
 */
export const TX_WORDS = Frame.TX_ENTRY / 4;
export const TX_SLOT = Frame.TX_SLOT / 4;
export const TX_PORT = Frame.TX_PORT / 4;
export const TX_START = Frame.TX_START / 4;
export const TX_LENGTH = Frame.TX_LENGTH / 4;

export interface TxEntry { slot: number; port: number; start: number; length: number }

/** The rx list (where each frame's vnet header is, its length with it, its port) and the tx list. */
export interface FrameLists {
  rxLen: Uint32Array;
  rxPort: Uint32Array;
  rxAddr: Uint32Array;
  tx: Uint32Array;
}

/** Views over a configured node's frame lists (re-create them after the memory grew). */
export function frameLists(memory: WebAssembly.Memory, ex: DataplaneExports, rxCapacity: number): FrameLists {
  const buf = memory.buffer;
  return {
    rxLen: new Uint32Array(buf, ex.rxLenPtr(), rxCapacity),
    rxPort: new Uint32Array(buf, ex.rxPortPtr(), rxCapacity),
    rxAddr: new Uint32Array(buf, ex.rxAddrPtr(), rxCapacity),
    tx: new Uint32Array(buf, ex.txPtr(), (ex.txCap() * Frame.TX_ENTRY) / 4),
  };
}

export function txEntryAt(tx: Uint32Array, k: number): TxEntry {
  const b = k * TX_WORDS;
  return { slot: tx[b + TX_SLOT], port: tx[b + TX_PORT], start: tx[b + TX_START], length: tx[b + TX_LENGTH] };
}

/** Where a read for slot `slot` must land: the vnet header, HEADROOM - VNET_HLEN into the slot. */
export function slotReadOffset(slotBase: number, slotSize: number, slot: number): number {
  return slotBase + slot * slotSize + Frame.HEADROOM - VNET_HLEN;
}

/** The whole memory as bytes (the forwarding loop, the fabric, the capture tap read frames through it). */
export function memoryBytes(memory: WebAssembly.Memory): Uint8Array {
  return new Uint8Array(memory.buffer);
}

/** Copy `frame` (and `vnet`, default all zero) to memory offset `at`, as a TAP read would put it. */
export function writeFrame(memory: WebAssembly.Memory, at: number, frame: Uint8Array, vnet?: Uint8Array): void {
  const mem = new Uint8Array(memory.buffer);
  mem.fill(0, at, at + VNET_HLEN);
  if (vnet) mem.set(vnet.subarray(0, VNET_HLEN), at);
  mem.set(frame, at + VNET_HLEN);
}

/** The bytes of a tx entry: vnet header and frame, copied out. */
export function txEntryBytes(memory: WebAssembly.Memory, e: TxEntry): { vnet: Uint8Array; frame: Uint8Array } {
  const all = new Uint8Array(memory.buffer.slice(e.start, e.start + e.length));
  return { vnet: all.subarray(0, VNET_HLEN), frame: all.subarray(VNET_HLEN) };
}

/** A MAC's six bytes as one number (48 bits fit a double): the fabric's key. */
export function macKey(b: ArrayLike<number>): number {
  return ((b[0] * 256 + b[1]) * 256 + b[2]) * 16777216 + (b[3] * 65536 + b[4] * 256 + b[5]);
}
/** The destination MAC (as macKey) of the frame whose vnet header is at `vnetAt`. */
export function frameDstMacKey(mem8: Uint8Array, vnetAt: number): number {
  const at = vnetAt + VNET_HLEN;
  return ((mem8[at] * 256 + mem8[at + 1]) * 256 + mem8[at + 2]) * 16777216 + (mem8[at + 3] * 65536 + mem8[at + 4] * 256 + mem8[at + 5]);
}

// ---- counters (assembly/counters.ts): u64 each ----

export interface PortCounters { [name: string]: number }
export interface CounterSnapshot {
  drops: Record<string, number>;
  events: Record<string, number>;
  ports: PortCounters[];
}
/** Counter names, read once from the module (assembly/counters.ts keeps the one list). */
export interface CounterNames { drops: string[]; events: string[]; ports: string[] }

export function readCounters(memory: WebAssembly.Memory, ex: DataplaneExports, names: CounterNames, maxPorts: number): CounterSnapshot {
  const buf = memory.buffer;
  const drops = new BigUint64Array(buf, ex.dropCountersPtr(), names.drops.length);
  const events = new BigUint64Array(buf, ex.eventCountersPtr(), names.events.length);
  const nPort = names.ports.length;
  const ports = new BigUint64Array(buf, ex.portCountersPtr(), maxPorts * nPort);
  const snap: CounterSnapshot = { drops: {}, events: {}, ports: [] };
  // index 0 of drops is "none": not a reason
  names.drops.forEach((n, i) => { if (i > 0) snap.drops[n] = Number(drops[i]); });
  names.events.forEach((n, i) => { snap.events[n] = Number(events[i]); });
  for (let p = 0; p < maxPorts; p++) {
    const c: PortCounters = {};
    names.ports.forEach((n, i) => { c[n] = Number(ports[p * nPort + i]); });
    snap.ports.push(c);
  }
  return snap;
}

// ---- the forwarding database (assembly/tables/mac_table.ts) ----

export interface FdbEntry { mac: string; port: number; ageMs: number; static?: boolean }

export function readFdb(memory: WebAssembly.Memory, ex: DataplaneExports, nowMs: number): FdbEntry[] {
  const n = ex.fdbSlots();
  const E = MacTable.ENTRY;
  const view = new DataView(memory.buffer, ex.fdbBase(), n * E);
  const macMask = MacTable.OCCUPIED - 1n;
  const out: FdbEntry[] = [];
  for (let i = 0; i < n; i++) {
    const key = view.getBigUint64(i * E, true);
    if (key === 0n) continue;
    const port = view.getUint32(i * E + MacTable.O_PORT, true);
    const isStatic = (port & MacTable.STATIC) !== 0;
    out.push({
      mac: bigIntToMac(key & macMask),
      port: (port & ~MacTable.STATIC) >>> 0,
      ageMs: isStatic ? 0 : ((nowMs >>> 0) - view.getUint32(i * E + MacTable.O_SEEN, true)) >>> 0,
      ...(isStatic ? { static: true } : {}),
    });
  }
  return out.sort((a, b) => a.port - b.port || a.mac.localeCompare(b.mac));
}

// ---- routes (assembly/tables/fib.ts) ----

/** A route as the data plane holds it (Dataplane.routes). */
export interface RouteEntry { cidr: string; kind: RouteKind | string; nextHop?: string; vtepMac?: string }

/** The routing table, longest prefix first. */
export function readRoutes(memory: WebAssembly.Memory, ex: DataplaneExports): RouteEntry[] {
  const slots = ex.fibSlots();
  const view = new DataView(memory.buffer, ex.fibSlotsBase(), slots * Fib.SLOT);
  // route records: at most capacity of them, and the slot array is at least twice the capacity
  const rec = new DataView(memory.buffer, ex.fibRecordsBase(), (slots / 2) * Fib.REC);
  const out: RouteEntry[] = [];
  for (let i = 0; i < slots; i++) {
    const key = view.getBigUint64(i * Fib.SLOT, true);
    if (key === 0n) continue; // empty: occupied keys have the OCCUPIED bit
    const len = Number(key & ((1n << Fib.KEY_PREFIX_SHIFT) - 1n));
    const prefix = Number((key >> Fib.KEY_PREFIX_SHIFT) & 0xffffffffn);
    const r = view.getUint32(i * Fib.SLOT + Fib.S_ROUTE, true) * Fib.REC;
    const kind = rec.getUint32(r + Fib.R_KIND, true);
    const nextHop = rec.getUint32(r + Fib.R_NEXT_HOP, true);
    const vtep = rec.getBigUint64(r + Fib.R_VTEP_MAC, true);
    out.push({
      cidr: `${intToIpv4(prefix)}/${len}`, kind: ROUTE_KIND_NAME[kind] ?? `kind${kind}`,
      ...(nextHop ? { nextHop: intToIpv4(nextHop) } : {}),
      ...(vtep ? { vtepMac: bigIntToMac(vtep) } : {}),
    });
  }
  return out.sort((a, b) => Number(b.cidr.split('/')[1]) - Number(a.cidr.split('/')[1]) || ipv4ToInt(a.cidr.split('/')[0]) - ipv4ToInt(b.cidr.split('/')[0]));
}

// ---- neighbours (assembly/tables/neighbors.ts) ----

/** The neighbour table (IPv4 -> MAC), by address. */
export function readNeighbors(memory: WebAssembly.Memory, ex: DataplaneExports): { ip: string; mac: string }[] {
  const slots = ex.neighSlots();
  const S = Neighbors.SLOT;
  const view = new DataView(memory.buffer, ex.neighBase(), slots * S);
  const ipMask = Neighbors.OCCUPIED - 1n;
  const out: { ip: number; mac: string }[] = [];
  for (let i = 0; i < slots; i++) {
    const key = view.getBigUint64(i * S, true);
    if (key === 0n) continue; // occupied keys have the OCCUPIED bit
    out.push({ ip: Number(key & ipMask), mac: bigIntToMac(view.getBigUint64(i * S + Neighbors.O_MAC, true)) });
  }
  return out.sort((a, b) => a.ip - b.ip).map((e) => ({ ip: intToIpv4(e.ip), mac: e.mac }));
}

// ---- Services (assembly/tables/services.ts, tables/maglev.ts) ----

export interface ServiceBackend { ip: string; port: number }
/** A Service frontend and its backends as the data plane holds them (Dataplane.serviceTable). */
export interface ServiceTableEntry {
  /** the data plane's service index */
  index: number;
  vip: string;
  port: number;
  proto: ServiceProto | string;
  backends: ServiceBackend[];
  masquerade: boolean;
  dropWhenEmpty: boolean;
  maglev: boolean;
  /** ClientIP affinity timeout (0: none) */
  affinitySeconds: number;
}

/** Every Service frontend with its backends and options. */
export function readServiceTable(memory: WebAssembly.Memory, ex: DataplaneExports): ServiceTableEntry[] {
  const buf = memory.buffer;
  const slots = ex.svcFrontendSlots();
  const front = new DataView(buf, ex.svcFrontendBase(), slots * Services.FSLOT);
  const stride = ex.svcStrideBytes();
  const svcs = new DataView(buf, ex.svcBase(), ex.svcCapacity() * stride);
  const out: ServiceTableEntry[] = [];
  for (let i = 0; i < slots; i++) {
    const ref = front.getUint32(i * Services.FSLOT + Services.F_REF, true);
    if (ref === 0) continue; // empty slot
    const key = front.getBigUint64(i * Services.FSLOT, true);
    const index = ref - 1;
    const h = index * stride;
    const count = svcs.getUint32(h + Services.H_COUNT, true);
    const flags = svcs.getUint32(h + Services.H_FLAGS, true);
    const backends: ServiceBackend[] = [];
    for (let b = 0; b < count; b++) {
      const at = h + Services.SVC_HDR + b * Services.BACKEND;
      backends.push({ ip: intToIpv4(svcs.getUint32(at + Services.B_IP, true)), port: svcs.getUint16(at + Services.B_PORT, true) });
    }
    const proto = Number(key & ((1n << Services.KEY_PORT_SHIFT) - 1n));
    out.push({
      index, vip: intToIpv4(Number((key >> Services.KEY_VIP_SHIFT) & 0xffffffffn)),
      port: Number((key >> Services.KEY_PORT_SHIFT) & 0xffffn),
      proto: PROTO_NAME[proto] ?? String(proto), backends,
      masquerade: (flags & Services.SVC_MASQUERADE) !== 0, dropWhenEmpty: (flags & Services.SVC_DROP_EMPTY) !== 0,
      maglev: (flags & Services.SVC_MAGLEV) !== 0,
      affinitySeconds: svcs.getUint32(h + Services.H_AFFINITY_MS, true) / 1000,
    });
  }
  return out.sort((a, b) => ipv4ToInt(a.vip) - ipv4ToInt(b.vip) || a.port - b.port || String(a.proto).localeCompare(String(b.proto)));
}

/** Write Service `svc`'s Maglev table (backend indices, one u16 per slot). */
export function writeMaglevTable(memory: WebAssembly.Memory, ex: DataplaneExports, svc: number, table: Uint16Array | number[]): void {
  new Uint16Array(memory.buffer, ex.maglevTable(svc), table.length).set(table);
}

// ---- connection tracking (assembly/tables/conntrack.ts) ----

/** A 5-tuple; for ICMP echo both ports are the echo identifier. */
export interface CtTuple { src: string; dst: string; sport: number; dport: number }
export interface CtEntry {
  entry: number;
  proto: number;
  orig: CtTuple;
  reply: CtTuple;
  state: CtStateName;
  seenReply: boolean;
  assured: boolean;
  ageMs: number;
  timeoutMs: number;
}

/** The conntrack table (`podwire conntrack -L`); expired entries not yet collected are left out. */
export function readConntrack(memory: WebAssembly.Memory, ex: DataplaneExports, nowMs: number): CtEntry[] {
  const size = ex.ctEntryBytes();
  const n = ex.ctHighWater();
  const C = Conntrack;
  const view = new DataView(memory.buffer, ex.ctBase(), Math.max(n, 1) * size);
  const tuple = (o: number): CtTuple => ({
    src: intToIpv4(view.getUint32(o + C.T_SRC, true)), dst: intToIpv4(view.getUint32(o + C.T_DST, true)),
    sport: view.getUint16(o + C.T_SPORT, true), dport: view.getUint16(o + C.T_DPORT, true),
  });
  const out: CtEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * size;
    const flags = view.getUint16(o + C.O_FLAGS, true);
    if ((flags & C.F_LIVE) === 0) continue;
    const st = view.getUint8(o + C.O_STATE);
    const ageMs = ((nowMs >>> 0) - view.getUint32(o + C.O_SEEN, true)) >>> 0;
    // a TCP entry's timeout class when not its state's (after an RST, unacknowledged data)
    const tclass = (flags & C.F_TCLASS) >> C.F_TCLASS_SHIFT;
    const timeoutMs = ex.ctTimeout(tclass || st);
    if (ageMs >= timeoutMs) continue;
    out.push({
      entry: i, proto: view.getUint8(o + C.O_PROTO), orig: tuple(o + C.O_ORIG), reply: tuple(o + C.O_REPLY), state: CT_STATES[st],
      seenReply: (flags & C.F_SEEN_REPLY) !== 0, assured: (flags & C.F_ASSURED) !== 0, ageMs, timeoutMs,
    });
  }
  return out;
}

// ---- decision traces (assembly/trace.ts) ----

/** 32-bit words per trace record. */
export const TRACE_RECORD_WORDS = Trace.RECORD / 4;

/** The records written since the last reset, copied out of the ring, and how many did not fit it. */
export function readTraceRing(memory: WebAssembly.Memory, ex: DataplaneExports): { words: Uint32Array; lost: number } {
  const n = ex.traceCount();
  const kept = Math.min(n, ex.traceRingCap());
  const at = ex.traceRingPtr();
  return { words: new Uint32Array(memory.buffer.slice(at, at + kept * Trace.RECORD)), lost: n - kept };
}

/** One trace record: which frame, which step, its code and six fields. */
export interface TraceRecord { frame: number; step: number; code: number; a: number; b: number; c: number; d: number; e: number; f: number }

/** Walk the records of a copy of the ring (as readTraceRing returns it). */
export function forEachTraceRecord(words: Uint32Array, fn: (r: TraceRecord) => void): void {
  const W = TRACE_RECORD_WORDS;
  const seq = Trace.R_SEQ / 4;
  const stepWord = Trace.R_STEP / 4; // step u16, then code u16 (little-endian: the word's high half)
  const a = Trace.R_A / 4;
  for (let i = 0; i + W <= words.length; i += W) {
    const sc = words[i + stepWord];
    fn({
      frame: words[i + seq], step: sc & 0xffff, code: sc >>> 16,
      a: words[i + a], b: words[i + a + 1], c: words[i + a + 2], d: words[i + a + 3], e: words[i + a + 4], f: words[i + a + 5],
    });
  }
}
