// Coalescing TCP segments into one super-frame before they are written to a
// pod's TAP: what the kernel's GRO does for a NIC (tcp4_gro_receive), for
// frames that arrive segmented — a socket underlay carries one wire packet
// per datagram, so the pod behind it would otherwise take every MSS-sized
// segment through its own TCP stack one write(2) at a time.
//
// A run is consecutive tx entries to one TAP that are one TCP/IPv4 flow's
// in-order segments (tcp4_gro_receive's rules): the same Ethernet and IPv4
// addresses, TOS, TTL and ports; IPv4 without options and unfragmented, IP
// id incremented by one (or fixed with DF); sequence numbers contiguous;
// the same ack, window, flags (but PSH, which only the last may carry) and
// options byte for byte; every payload the first one's size but the last,
// which may be shorter and ends the run; ACK set, no SYN/FIN/RST/URG/ECE/CWR;
// at most 64 KiB of IPv4. A run of several is written with ONE writev: the
// first frame with its headers patched (IPv4 total length and header
// checksum, TCP checksum as the pseudo-header sum) behind a vnet header
// asking for GSO (TCPV4, gso_size = the first payload's size, NEEDS_CSUM),
// then every other frame's payload in place. Anything else is written as
// it is. Nothing here allocates per frame.
import { bufferAddress, writeAt, writevAt } from '../io/libc.ts';
import { putU64, IOVEC_LEN } from '../io/msghdr.ts';
import { fillIpv4HeaderChecksum } from './internet-checksum.ts';
import type { SocketUnderlayStats } from './engine-protocol.ts';

const ETH = 14, IP4 = 20;
/** the most TCP payload a run carries, as GRO's 64 KiB limit: IPv4 total length fits 16 bits */
const MAX_IP_TOTAL = 65535;
const MAX_SEGS = 64;
const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_URG = 0x20, TCP_ECE = 0x40, TCP_CWR = 0x80;
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1, VIRTIO_NET_HDR_GSO_TCPV4 = 1;

export class TapCoalescer {
  private readonly iov = new Int32Array(MAX_SEGS * IOVEC_LEN / 4);
  private readonly iovAddr = bufferAddress(this.iov);
  // the run: its TAP, its first frame (memory offset of the vnet header), the frames' count, payload size, next seq
  private fd = -1;
  private first = 0;
  private count = 0;
  private mss = 0;
  private nextSeq = 0;
  private nextId = 0;
  private ipTotal = 0;
  private thl = 0;
  /** the run's first frame's length (vnet header included): written alone when the run stays one frame */
  private firstLen = 0;
  /** the run cannot grow (its last segment was short or carried PSH) */
  private closed = false;
  private psh = false;

  constructor(
    private readonly mem8: Uint8Array,
    private readonly memBase: number,
    private readonly vnetLen: number,
    /** the socket underlay's stats: toPod* are this coalescer's */
    private readonly stats: SocketUnderlayStats,
  ) {}

  private writeOne(fd: number, start: number, length: number): void {
    if (writeAt(fd, this.memBase + start, length) < 0) this.stats.toPodErrors++;
  }

  /** Queue the frame at memory offset `start` (`length` bytes with its vnet header) for TAP `fd`, or write it now. */
  add(fd: number, start: number, length: number): void {
    const m = this.mem8;
    const f = start + this.vnetLen;
    const len = length - this.vnetLen;
    // a plain frame (no GSO, no partial checksum) carrying TCP/IPv4 without options, unfragmented
    let segment = len >= ETH + IP4 + 20 && m[start] === 0 && m[start + 1] === 0 &&
      m[f + 12] === 0x08 && m[f + 13] === 0x00 && m[f + ETH] === 0x45 && m[f + ETH + 9] === 6 &&
      (m[f + ETH + 6] & 0x3f) === 0 && m[f + ETH + 7] === 0;
    let total = 0, thl = 0, payload = 0, flags = 0;
    if (segment) {
      const ip = f + ETH;
      total = (m[ip + 2] << 8) | m[ip + 3];
      thl = (m[ip + IP4 + 12] >> 4) << 2;
      flags = m[ip + IP4 + 13];
      payload = total - IP4 - thl;
      segment = thl >= 20 && total <= len - ETH && payload > 0 &&
        (flags & (TCP_ACK | TCP_FIN | TCP_SYN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)) === TCP_ACK;
    }
    if (!segment) {
      this.flush();
      this.writeOne(fd, start, length);
      return;
    }
    if (this.count > 0 && !this.joins(fd, f, total, thl, payload)) this.flush();
    const ip = f + ETH;
    const tcp = ip + IP4;
    const seq = ((m[tcp + 4] << 24) | (m[tcp + 5] << 16) | (m[tcp + 6] << 8) | m[tcp + 7]) >>> 0;
    const i = this.count++;
    if (i === 0) {
      this.fd = fd; this.first = start; this.firstLen = length; this.mss = payload; this.thl = thl;
      this.ipTotal = total; this.closed = false;
      putU64(this.iov, 0, this.memBase + start);
      putU64(this.iov, 8, this.vnetLen + ETH + total);
    } else {
      this.ipTotal += payload;
      const at = i * IOVEC_LEN;
      putU64(this.iov, at, this.memBase + tcp + thl);
      putU64(this.iov, at + 8, payload);
    }
    this.nextSeq = (seq + payload) >>> 0;
    this.nextId = (((m[ip + 4] << 8) | m[ip + 5]) + 1) & 0xffff;
    this.psh = (flags & TCP_PSH) !== 0;
    if (payload < this.mss || this.psh || this.count === MAX_SEGS) this.closed = true;
  }

  /** Whether the segment at frame offset `f` continues the run. */
  private joins(fd: number, f: number, total: number, thl: number, payload: number): boolean {
    if (this.closed || fd !== this.fd || thl !== this.thl || payload > this.mss || this.ipTotal + payload > MAX_IP_TOTAL) return false;
    const m = this.mem8;
    const a = this.first + this.vnetLen;
    // Ethernet addresses; IPv4 TOS, TTL, protocol, addresses (bytes 1, 8-9, 12-19); TCP ports, ack, doff/flags(-PSH)/window, options
    for (let k = 0; k < 12; k++) if (m[f + k] !== m[a + k]) return false;
    const ip = f + ETH, ipa = a + ETH;
    if (m[ip + 1] !== m[ipa + 1] || m[ip + 8] !== m[ipa + 8]) return false;
    for (let k = 12; k < 20; k++) if (m[ip + k] !== m[ipa + k]) return false;
    const id = (m[ip + 4] << 8) | m[ip + 5];
    const df = (m[ip + 6] & 0x40) !== 0;
    if (id !== this.nextId && !(df && id === ((this.nextId - 1) & 0xffff))) return false;
    const tcp = ip + IP4, tcpa = ipa + IP4;
    for (let k = 0; k < 4; k++) if (m[tcp + k] !== m[tcpa + k]) return false;
    const seq = ((m[tcp + 4] << 24) | (m[tcp + 5] << 16) | (m[tcp + 6] << 8) | m[tcp + 7]) >>> 0;
    if (seq !== this.nextSeq) return false;
    for (let k = 8; k < 13; k++) if (m[tcp + k] !== m[tcpa + k]) return false;
    if ((m[tcp + 13] & ~TCP_PSH) !== (m[tcpa + 13] & ~TCP_PSH)) return false;
    if (m[tcp + 14] !== m[tcpa + 14] || m[tcp + 15] !== m[tcpa + 15]) return false;
    for (let k = 20; k < thl; k++) if (m[tcp + k] !== m[tcpa + k]) return false;
    return true;
  }

  /** Write the run: one frame as it is, several as one GSO super-frame. */
  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    if (n === 1) {
      this.writeOne(this.fd, this.first, this.firstLen);
      return;
    }
    const m = this.mem8;
    const v = this.first;
    const ip = v + this.vnetLen + ETH;
    const tcp = ip + IP4;
    const total = this.ipTotal;
    // IPv4: the whole run's length, header checksum again
    m[ip + 2] = total >>> 8; m[ip + 3] = total & 0xff;
    fillIpv4HeaderChecksum(m, ip);
    // TCP: the last segment's PSH; the checksum field holds the pseudo-header sum (NEEDS_CSUM finishes it)
    if (this.psh) m[tcp + 13] |= TCP_PSH;
    const tcpLen = total - IP4;
    let p = 6 + tcpLen;
    for (let k = 12; k < 20; k += 2) p += (m[ip + k] << 8) | m[ip + k + 1];
    p = (p & 0xffff) + (p >>> 16);
    p = (p & 0xffff) + (p >>> 16);
    m[tcp + 16] = p >>> 8; m[tcp + 17] = p & 0xff;
    // virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (little-endian)
    const hlen = ETH + IP4 + this.thl;
    m[v] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    m[v + 1] = VIRTIO_NET_HDR_GSO_TCPV4;
    m[v + 2] = hlen & 0xff; m[v + 3] = hlen >>> 8;
    m[v + 4] = this.mss & 0xff; m[v + 5] = this.mss >>> 8;
    m[v + 6] = ETH + IP4; m[v + 7] = 0;
    m[v + 8] = 16; m[v + 9] = 0;
    for (let k = 10; k < this.vnetLen; k++) m[v + k] = 0;
    this.stats.toPodSuperFrames++;
    this.stats.toPodCoalesced += n;
    if (writevAt(this.fd, this.iovAddr, n) < 0) this.stats.toPodErrors++;
  }
}
