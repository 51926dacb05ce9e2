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
    // Section Header Block: byte-order magic, version 1.0, section length unknown (-1).
    const b = block(0x0a0d0d0a, 16);
    b.view.setUint32(8, 0x1a2b3c4d, true);
    b.view.setUint16(12, 1, true);
    b.view.setUint16(14, 0, true);
    b.view.setBigInt64(16, -1n, true);
    this.sink.write(b.bytes);
  }

  /** Add an Interface Description Block; returns the interface id for writeFrame. */
  addInterface(name: string): number {
    const nameBytes = Buffer.from(name, 'utf8');
    // if_name option (code 2), then opt_endofopt. if_tsresol defaults to 10^-6.
    const optLen = 4 + pad4(nameBytes.length) + 4;
    const b = block(0x00000001, 8 + optLen);
    b.view.setUint16(8, LINKTYPE_ETHERNET, true);
    b.view.setUint32(12, SNAPLEN, true);
    b.view.setUint16(16, 2, true);
    b.view.setUint16(18, nameBytes.length, true);
    b.bytes.set(nameBytes, 20);
    this.sink.write(b.bytes);
    return this.nIfaces++;
  }

  writeFrame(ifIndex: number, bytes: Uint8Array, tsMs: number = Date.now()): void {
    if (ifIndex < 0 || ifIndex >= this.nIfaces) throw new RangeError(`pcapng: no interface ${ifIndex}`);
    const cap = Math.min(bytes.length, SNAPLEN);
    // Enhanced Packet Block; the timestamp is one 64-bit count of microseconds.
    const b = block(0x00000006, 20 + pad4(cap));
    const us = BigInt(Math.round(tsMs * 1000));
    b.view.setUint32(8, ifIndex, true);
    b.view.setUint32(12, Number(us >> 32n), true);
    b.view.setUint32(16, Number(us & 0xffffffffn), true);
    b.view.setUint32(20, cap, true);
    b.view.setUint32(24, bytes.length, true);
    b.bytes.set(bytes.subarray(0, cap), 28);
    this.sink.write(b.bytes);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
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
