// The coalescer in front of pod TAPs (src/dataplane/tap-gro.ts): TCP
// segments of one flow, in order, leave as ONE writev of a GSO super-frame
// — IPv4 length and header checksum redone, TCP checksum field the
// pseudo-header sum for NEEDS_CSUM, PSH from the last, payloads back to
// back — and anything that breaks a run (a sequence gap, another flow, a
// non-TCP frame) is written as it came, in order. Written to a temporary
// file (a TAP takes one frame per write; a file keeps the bytes to check).
import { describe, it, expect, afterEach } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TapCoalescer } from '../../src/dataplane/tap-gro.ts';
import { bufferAddress } from '../../src/io/libc.ts';
import type { SocketUnderlayStats } from '../../src/dataplane/engine-protocol.ts';
import { tcpSuper, pattern, pseudo, podFrame, icmpMsg, N1, N2, TCP_TS_HLEN, rd16 } from './overlay-kit.ts';
import { refChecksum } from '../util.ts';

const VNET = 10;
const SLOT = 4096;
const TCP_PSH = 0x08, TCP_ACK = 0x10;

function stats(): SocketUnderlayStats {
  return {
    kind: 'vxlan', txPath: 'udp-gso', rxPath: 'udp-gro', sourcePorts: [], txPackets: 0, txBytes: 0, txSends: 0, txGsoSends: 0, txGsoRefused: 0,
    txErrors: 0, txNoPeer: 0, txNotTunnel: 0, lastTxErrno: 0, rxPackets: 0, rxBytes: 0, rxGroBatches: 0, rxErrors: 0,
    toPodSuperFrames: 0, toPodCoalesced: 0, toPodErrors: 0, rxUnknownPeer: 0, rxTooBig: 0, rxTooShort: 0, lastRxErrno: 0,
  };
}

/** One segment of the flow N1.pod:40000 -> N2.pod:5201 as node 2 would hand it to its pod: Ethernet + IPv4 (id) + TCP with timestamps. */
function segment(seq: number, id: number, payload: Uint8Array, flags = TCP_ACK, sport = 40000): Uint8Array {
  const tcp = tcpSuper({ payload, seq, flags, sport });
  return podFrame(N1, { dst: N2.pod, proto: 6, df: true, id, payload: tcp });
}

let dir = '';
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = ''; });

/** Put `frames` in slots of a buffer (a zero vnet header before each), run them through a coalescer to one file, return the file's bytes and the stats. */
function run(frames: Uint8Array[]): { out: Uint8Array; s: SocketUnderlayStats } {
  const mem8 = new Uint8Array(SLOT * frames.length);
  dir = mkdtempSync(join(tmpdir(), 'pw-tapgro-'));
  const fd = openSync(join(dir, 'out'), 'w+');
  const s = stats();
  try {
    const c = new TapCoalescer(mem8, bufferAddress(mem8), VNET, s);
    frames.forEach((f, i) => mem8.set(f, i * SLOT + VNET));
    frames.forEach((f, i) => c.add(fd, i * SLOT, VNET + f.length));
    c.flush();
  } finally {
    closeSync(fd);
  }
  return { out: new Uint8Array(readFileSync(join(dir, 'out'))), s };
}

describe('TapCoalescer', () => {
  it('six in-order segments (the last short, with PSH) leave as one super-frame with a GSO vnet header', () => {
    const mss = 1000;
    const pays = [0, 1, 2, 3, 4].map((k) => pattern(mss, k)).concat([pattern(300, 9)]);
    const seq0 = 0xfffff000; // wraps inside the run
    let seq = seq0;
    const frames = pays.map((p, k) => { const f = segment(seq, 0x100 + k, p, k === 5 ? TCP_ACK | TCP_PSH : TCP_ACK); seq = (seq + p.length) >>> 0; return f; });
    const { out, s } = run(frames);
    const total = 20 + TCP_TS_HLEN + 5 * mss + 300;
    expect(out.length).toBe(VNET + 14 + total);
    const v = new DataView(out.buffer);
    // virtio_net_hdr: NEEDS_CSUM, GSO TCPV4, hdr_len 66, gso_size 1000, csum_start 34, csum_offset 16
    expect([out[0], out[1], v.getUint16(2, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint16(8, true)]).toEqual([1, 1, 66, mss, 34, 16]);
    const ip = out.subarray(VNET + 14);
    expect(rd16(ip, 2)).toBe(total);
    expect(refChecksum(ip.subarray(0, 20))).toBe(0); // header checksum valid again
    expect(rd16(ip, 4)).toBe(0x100); // the first segment's id
    const tcp = ip.subarray(20);
    expect(tcp[13]).toBe(TCP_ACK | TCP_PSH);
    expect(rd16(tcp, 16)).toBe(~refChecksum(pseudo(N1.pod, N2.pod, 6, total - 20)) & 0xffff);
    expect(Buffer.from(tcp.subarray(TCP_TS_HLEN)).equals(Buffer.concat(pays))).toBe(true);
    expect([s.toPodSuperFrames, s.toPodCoalesced, s.toPodErrors]).toEqual([1, 6, 0]);
  });

  it('a sequence gap, another flow and an ICMP packet break runs; everything is written, in order, the lone ones unchanged', () => {
    const a = segment(1000, 1, pattern(500, 1));
    const b = segment(1500, 2, pattern(500, 2));
    const gap = segment(2500, 3, pattern(500, 3)); // 2000..2499 missing
    const other = segment(3000, 4, pattern(500, 4), TCP_ACK, 40001);
    const ping = podFrame(N1, { dst: N2.pod, proto: 1, payload: icmpMsg(8, 0, 1, pattern(56)) });
    const c = segment(3000, 5, pattern(500, 5));
    const { out, s } = run([a, b, gap, other, ping, c]);
    // a+b coalesced, then gap, other, ping and c each as they came (with their zero vnet header)
    const first = VNET + 14 + 20 + TCP_TS_HLEN + 1000;
    expect(out.length).toBe(first + [gap, other, ping, c].reduce((n, f) => n + VNET + f.length, 0));
    expect(rd16(out, VNET + 14 + 2)).toBe(20 + TCP_TS_HLEN + 1000);
    let at = first;
    for (const f of [gap, other, ping, c]) {
      expect(Array.from(out.subarray(at, at + VNET))).toEqual(new Array(VNET).fill(0));
      expect(Buffer.from(out.subarray(at + VNET, at + VNET + f.length)).equals(Buffer.from(f))).toBe(true);
      at += VNET + f.length;
    }
    expect([s.toPodSuperFrames, s.toPodCoalesced]).toEqual([1, 2]);
  });

  it('an IPv4 fragment of TCP is written as it is; the segments after it still coalesce', () => {
    const frag = podFrame(N1, { dst: N2.pod, proto: 6, mf: true, payload: tcpSuper({ payload: pattern(100) }) });
    const seg = segment(1, 1, pattern(100));
    const { out, s } = run([frag, seg, segment(101, 2, pattern(100))]);
    expect(Buffer.from(out.subarray(VNET, VNET + frag.length)).equals(Buffer.from(frag))).toBe(true);
    expect([s.toPodSuperFrames, s.toPodCoalesced]).toEqual([1, 2]);
  });
});
