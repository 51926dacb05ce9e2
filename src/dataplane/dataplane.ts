// One node's data plane: a WebAssembly instance plus typed views over its
// frame slots, batch metadata, tx list and counters. This is the only place
// that knows the memory layout; everything else talks in ports and frames.
import { instantiate, readString, type Build, type DataplaneExports } from './wasm.ts';
import { ipv4ToInt, macToBigInt, bigIntToMac } from '../model/addr.ts';

export interface DataplaneOptions {
  /** frame slots = the largest batch (default 256) */
  slots?: number;
  /** bytes per slot; 64 KiB + headroom to hold GSO super-frames (default), ~2 KiB is enough with offloads off */
  slotSize?: number;
  fdbCapacity?: number;
  maxPorts?: number;
  build?: Build;
}

export interface TxEntry { slot: number; port: number; start: number; length: number }

export interface PortCounters { [name: string]: number }
export interface CounterSnapshot {
  drops: Record<string, number>;
  events: Record<string, number>;
  ports: PortCounters[];
}

/** Room for a 64 KiB GSO frame + its vnet header behind the headroom. */
export const GSO_SLOT_SIZE = 65536 + 512;
export const MTU_SLOT_SIZE = 2048 + 256;

export class Dataplane {
  readonly ex: DataplaneExports;
  readonly slots: number;
  readonly slotSize: number;
  readonly maxPorts: number;
  readonly headroom: number;
  readonly vnetLen: number;
  /** where slot 0 starts in memory */
  readonly slotBase: number;
  readonly rxLen: Uint32Array;
  readonly rxPort: Uint32Array;
  readonly tx: Uint32Array;
  readonly memory: WebAssembly.Memory;
  private readonly dropNames: string[];
  private readonly eventNames: string[];
  private readonly portCounterNames: string[];

  constructor(opts: DataplaneOptions = {}) {
    this.slots = opts.slots ?? 256;
    this.slotSize = opts.slotSize ?? GSO_SLOT_SIZE;
    this.maxPorts = opts.maxPorts ?? 64;
    const ex = instantiate(opts.build ?? 'release');
    const rc = ex.configure(this.slots, this.slotSize, opts.fdbCapacity ?? 4096, this.maxPorts);
    if (rc !== 0) throw new Error(`data plane configure failed (${rc}): slots=${this.slots} slotSize=${this.slotSize}`);
    this.ex = ex;
    // configure() grew memory; from here on it never grows, so views stay valid
    this.memory = ex.memory;
    const buf = ex.memory.buffer;
    this.headroom = ex.headroom();
    this.vnetLen = ex.vnetHeaderLen();
    this.slotBase = ex.slotBase();
    this.rxLen = new Uint32Array(buf, ex.rxLenPtr(), this.slots);
    this.rxPort = new Uint32Array(buf, ex.rxPortPtr(), this.slots);
    this.tx = new Uint32Array(buf, ex.txPtr(), (ex.txCap() * ex.txEntryBytes()) / 4);
    this.dropNames = names(ex, ex.dropReasonCount(), ex.dropReasonName);
    this.eventNames = names(ex, ex.eventCount(), ex.eventName);
    this.portCounterNames = names(ex, ex.portCounterCount(), ex.portCounterName);
  }

  /** Byte offset in memory where a read for slot i must land (vnet header first). */
  readOffset(slot: number): number {
    return this.slotBase + slot * this.slotSize + this.headroom - this.vnetLen;
  }
  /** The most a read into one slot may take (vnet header + frame). */
  get readCapacity(): number {
    return this.slotSize - this.headroom + this.vnetLen;
  }

  attachPort(port: number, mtu: number): void {
    if (!this.ex.portAttach(port, mtu)) throw new Error(`port ${port} out of range (max ${this.maxPorts - 1})`);
  }
  detachPort(port: number): void {
    this.ex.portDetach(port);
    this.ex.fdbFlushPort(port);
  }
  setGateway(ip: string, mac: string): void {
    this.ex.setGateway(ipv4ToInt(ip), macToBigInt(mac));
  }
  /** The data plane's clock, in ms (wraps at 2^32, which aging arithmetic tolerates). */
  setClock(ms: number): void {
    this.ex.setClock(ms >>> 0);
  }

  /** Process slots [0, n) as filled in rxLen/rxPort; returns the tx entry count. */
  process(n: number): number {
    return this.ex.processBatch(n);
  }
  txEntry(k: number): TxEntry {
    const b = k * 4;
    return { slot: this.tx[b], port: this.tx[b + 1], start: this.tx[b + 2], length: this.tx[b + 3] };
  }

  // ---- helpers for tests and the in-memory benchmark ----

  /** Copy a frame into slot `slot` as if read from `port`'s TAP. `vnet` defaults to all zero. */
  putFrame(slot: number, port: number, frame: Uint8Array, vnet?: Uint8Array): void {
    const at = this.readOffset(slot);
    const mem = new Uint8Array(this.memory.buffer);
    mem.fill(0, at, at + this.vnetLen);
    if (vnet) mem.set(vnet.subarray(0, this.vnetLen), at);
    if (frame.length > this.readCapacity - this.vnetLen) throw new Error('frame larger than a slot');
    mem.set(frame, at + this.vnetLen);
    this.rxLen[slot] = this.vnetLen + frame.length;
    this.rxPort[slot] = port;
  }
  /** The bytes tx entry k would write: vnet header and frame, copied out. */
  txBytes(k: number): { vnet: Uint8Array; frame: Uint8Array; port: number } {
    const e = this.txEntry(k);
    const all = new Uint8Array(this.memory.buffer.slice(e.start, e.start + e.length));
    return { vnet: all.subarray(0, this.vnetLen), frame: all.subarray(this.vnetLen), port: e.port };
  }

  counters(): CounterSnapshot {
    const buf = this.memory.buffer;
    const drops = new BigUint64Array(buf, this.ex.dropCountersPtr(), this.dropNames.length);
    const events = new BigUint64Array(buf, this.ex.eventCountersPtr(), this.eventNames.length);
    const nPort = this.portCounterNames.length;
    const ports = new BigUint64Array(buf, this.ex.portCountersPtr(), this.maxPorts * nPort);
    const snap: CounterSnapshot = { drops: {}, events: {}, ports: [] };
    // index 0 of drops is "none": not a reason
    this.dropNames.forEach((n, i) => { if (i > 0) snap.drops[n] = Number(drops[i]); });
    this.eventNames.forEach((n, i) => { snap.events[n] = Number(events[i]); });
    for (let p = 0; p < this.maxPorts; p++) {
      const c: PortCounters = {};
      this.portCounterNames.forEach((n, i) => { c[n] = Number(ports[p * nPort + i]); });
      snap.ports.push(c);
    }
    return snap;
  }

  /** The forwarding database as the data plane holds it. */
  fdb(nowMs: number): { mac: string; port: number; ageMs: number }[] {
    const base = this.ex.fdbBase();
    const n = this.ex.fdbSlots();
    const view = new DataView(this.memory.buffer, base, n * 16);
    const out: { mac: string; port: number; ageMs: number }[] = [];
    for (let i = 0; i < n; i++) {
      const key = view.getBigUint64(i * 16, true);
      if (key === 0n) continue;
      out.push({
        mac: bigIntToMac(key & 0xffffffffffffn),
        port: view.getUint32(i * 16 + 8, true),
        ageMs: ((nowMs >>> 0) - view.getUint32(i * 16 + 12, true)) >>> 0,
      });
    }
    return out.sort((a, b) => a.port - b.port || a.mac.localeCompare(b.mac));
  }
}

function names(ex: DataplaneExports, n: number, fn: (i: number) => number): string[] {
  return Array.from({ length: n }, (_, i) => readString(ex.memory, fn.call(ex, i)));
}
