// Capture writers Wireshark/tshark read: classic pcap (one Ethernet link) and
// pcapng (one interface block per port, named, so a capture across pods
// shows which TAP each frame used). Frames are plain Ethernet: callers strip
// the virtio-net header first. Little-endian, microsecond timestamps.
import { openSync, writeSync, closeSync } from 'node:fs';
import type { Writable } from 'node:stream';

export const LINKTYPE_ETHERNET = 1;
export const SNAPLEN = 262144;

/** Where bytes go: a file path (written synchronously, in order) or a stream. */
class Sink {
  private fd = -1;
  constructor(private readonly target: string | Writable) {
    if (typeof target === 'string') this.fd = openSync(target, 'w');
  }
  write(b: Uint8Array): void {
    if (this.fd >= 0) writeSync(this.fd, b);
    else (this.target as Writable).write(Buffer.from(b)); // copy: caller may reuse `b`
  }
  close(): Promise<void> {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      return Promise.resolve();
    }
    const s = this.target as Writable;
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.end(() => resolve());
    });
  }
}

/** Split a millisecond timestamp into whole seconds and microseconds. */
function splitUs(tsMs: number): [number, number] {
  const us = Math.round(tsMs * 1000);
  return [Math.floor(us / 1e6), us % 1e6];
}

export class PcapWriter {
  private readonly sink: Sink;
  private readonly hdr = new DataView(new ArrayBuffer(16));

  constructor(target: string | Writable) {
    this.sink = new Sink(target);
    const g = new DataView(new ArrayBuffer(24));
    g.setUint32(0, 0xa1b2c3d4, true); // magic: microsecond resolution
    g.setUint16(4, 2, true);
    g.setUint16(6, 4, true);
    g.setUint32(16, SNAPLEN, true);
    g.setUint32(20, LINKTYPE_ETHERNET, true);
    this.sink.write(new Uint8Array(g.buffer));
  }

  writeFrame(bytes: Uint8Array, tsMs: number = Date.now()): void {
    const [sec, usec] = splitUs(tsMs);
    const cap = Math.min(bytes.length, SNAPLEN);
    this.hdr.setUint32(0, sec, true);
    this.hdr.setUint32(4, usec, true);
    this.hdr.setUint32(8, cap, true);
    this.hdr.setUint32(12, bytes.length, true);
    this.sink.write(new Uint8Array(this.hdr.buffer));
    this.sink.write(bytes.subarray(0, cap));
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

const pad4 = (n: number) => (n + 3) & ~3;

export class PcapngWriter {
  private readonly sink: Sink;
  private nIfaces = 0;

  constructor(target: string | Writable) {
    this.sink = new Sink(target);
    this.sink.write(pcapngSectionHeader());
  }

  /** Add an Interface Description Block; returns the interface id for writeFrame. */
  addInterface(name: string): number {
    this.sink.write(pcapngInterface(name));
    return this.nIfaces++;
  }

  writeFrame(ifIndex: number, bytes: Uint8Array, tsMs: number = Date.now()): void {
    if (ifIndex < 0 || ifIndex >= this.nIfaces) throw new RangeError(`pcapng: no interface ${ifIndex}`);
    this.sink.write(pcapngPacket(ifIndex, bytes, tsMs));
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

// pcapng blocks one at a time: a lab streams a capture (`podwire capture`)
// as these blocks back to back, and the client splits them again to count
// packets and stop on a block boundary.
export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_ISB = 0x00000005;
export const PCAPNG_EPB = 0x00000006;
/** epb_flags direction bits: received on the interface / sent on it */
export const EPB_INBOUND = 1;
export const EPB_OUTBOUND = 2;
const OPT_IF_NAME = 2;
const OPT_EPB_FLAGS = 2;
const OPT_ISB_IFDROP = 5;

/** Section Header Block: byte-order magic, version 1.0, section length unknown (-1). */
export function pcapngSectionHeader(): Uint8Array {
  const b = block(PCAPNG_SHB, 16);
  b.view.setUint32(8, 0x1a2b3c4d, true);
  b.view.setUint16(12, 1, true);
  b.view.setUint16(14, 0, true);
  b.view.setBigInt64(16, -1n, true);
  return b.bytes;
}

/** Interface Description Block: Ethernet, SNAPLEN, if_name; if_tsresol left at its default, microseconds. */
export function pcapngInterface(name: string): Uint8Array {
  const nameBytes = Buffer.from(name, 'utf8');
  const optLen = 4 + pad4(nameBytes.length) + 4; // if_name, then opt_endofopt
  const b = block(PCAPNG_IDB, 8 + optLen);
  b.view.setUint16(8, LINKTYPE_ETHERNET, true);
  b.view.setUint32(12, SNAPLEN, true);
  b.view.setUint16(16, OPT_IF_NAME, true);
  b.view.setUint16(18, nameBytes.length, true);
  b.bytes.set(nameBytes, 20);
  return b.bytes;
}

/** Bytes an Enhanced Packet Block of `frameLen` takes (with an epb_flags option when `flags` is given). */
export function pcapngPacketLength(frameLen: number, flags = false): number {
  return 32 + pad4(Math.min(frameLen, SNAPLEN)) + (flags ? 12 : 0);
}

/** One Enhanced Packet Block; `flags` (EPB_INBOUND / EPB_OUTBOUND) adds epb_flags. */
export function pcapngPacket(ifIndex: number, bytes: Uint8Array, tsMs: number, flags?: number): Uint8Array {
  const out = new Uint8Array(pcapngPacketLength(bytes.length, flags !== undefined));
  writePcapngPacket(out, 0, ifIndex, bytes, tsMs, flags);
  return out;
}

/**
 * Write an Enhanced Packet Block for `bytes` into `out` at `at` (which must
 * have pcapngPacketLength bytes of zeroes there); returns the offset after it.
 * The timestamp is one 64-bit count of microseconds.
 */
export function writePcapngPacket(out: Uint8Array, at: number, ifIndex: number, bytes: Uint8Array, tsMs: number, flags?: number): number {
  const total = pcapngPacketLength(bytes.length, flags !== undefined);
  const cap = Math.min(bytes.length, SNAPLEN);
  const v = new DataView(out.buffer, out.byteOffset + at, total);
  const us = Math.round(tsMs * 1000);
  v.setUint32(0, PCAPNG_EPB, true);
  v.setUint32(4, total, true);
  v.setUint32(8, ifIndex, true);
  v.setUint32(12, Math.floor(us / 2 ** 32), true);
  v.setUint32(16, us % 2 ** 32, true);
  v.setUint32(20, cap, true);
  v.setUint32(24, bytes.length, true);
  out.set(bytes.subarray(0, cap), at + 28);
  if (flags !== undefined) {
    const o = 28 + pad4(cap);
    v.setUint16(o, OPT_EPB_FLAGS, true);
    v.setUint16(o + 2, 4, true);
    v.setUint32(o + 4, flags, true); // then opt_endofopt: 4 zero bytes
  }
  v.setUint32(total - 4, total, true);
  return at + total;
}

/** Interface Statistics Block: packets the capture itself dropped on interface `ifIndex` so far (isb_ifdrop). */
export function pcapngStats(ifIndex: number, tsMs: number, ifDrop: number): Uint8Array {
  const b = block(PCAPNG_ISB, 12 + 12 + 4);
  const us = Math.round(tsMs * 1000);
  b.view.setUint32(8, ifIndex, true);
  b.view.setUint32(12, Math.floor(us / 2 ** 32), true);
  b.view.setUint32(16, us % 2 ** 32, true);
  b.view.setUint16(20, OPT_ISB_IFDROP, true);
  b.view.setUint16(22, 8, true);
  b.view.setBigUint64(24, BigInt(ifDrop), true);
  return b.bytes;
}

/** A pcapng block as split from a stream: its type and all its bytes. */
export interface PcapngBlock { type: number; bytes: Uint8Array }

/**
 * Splits a little-endian pcapng byte stream (as this file writes it) into
 * whole blocks, whatever the chunk boundaries.
 */
export class PcapngBlockSplitter {
  private pending = Buffer.alloc(0);

  /** Add bytes; returns the blocks they complete. Throws on a length that cannot be a block. */
  push(chunk: Uint8Array): PcapngBlock[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const blocks: PcapngBlock[] = [];
    let at = 0;
    while (this.pending.length - at >= 12) {
      const total = this.pending.readUInt32LE(at + 4);
      if (total < 12 || total % 4 !== 0) throw new Error(`pcapng: bad block length ${total} at stream offset ${at}`);
      if (this.pending.length - at < total) break;
      blocks.push({ type: this.pending.readUInt32LE(at), bytes: this.pending.subarray(at, at + total) });
      at += total;
    }
    this.pending = this.pending.subarray(at);
    return blocks;
  }

  /** Bytes of an unfinished block held back. */
  get held(): number {
    return this.pending.length;
  }
}

/** The if_name of an Interface Description Block ('' without one). */
export function pcapngInterfaceName(idb: Uint8Array): string {
  const v = new DataView(idb.buffer, idb.byteOffset, idb.byteLength);
  for (let o = 16; o + 4 <= idb.length - 4;) {
    const code = v.getUint16(o, true);
    const len = v.getUint16(o + 2, true);
    if (code === 0) break;
    if (code === OPT_IF_NAME) return Buffer.from(idb.subarray(o + 4, o + 4 + len)).toString('utf8');
    o += 4 + pad4(len);
  }
  return '';
}

/** An Interface Statistics Block's interface id and isb_ifdrop (undefined without one). */
export function pcapngStatsDrops(isb: Uint8Array): { ifIndex: number; ifDrop?: number } {
  const v = new DataView(isb.buffer, isb.byteOffset, isb.byteLength);
  const ifIndex = v.getUint32(8, true);
  for (let o = 20; o + 4 <= isb.length - 4;) {
    const code = v.getUint16(o, true);
    const len = v.getUint16(o + 2, true);
    if (code === 0) break;
    if (code === OPT_ISB_IFDROP && len === 8) return { ifIndex, ifDrop: Number(v.getBigUint64(o + 4, true)) };
    o += 4 + pad4(len);
  }
  return { ifIndex };
}

/** A zeroed block with its type and (leading and trailing) total length filled in. */
function block(type: number, bodyLen: number): { bytes: Uint8Array; view: DataView } {
  const total = 12 + bodyLen;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  view.setUint32(total - 4, total, true);
  return { bytes, view };
}
