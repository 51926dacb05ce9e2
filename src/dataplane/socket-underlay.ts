// A node's underlay carried by a host socket, for nodes on other hosts
// (`podwire up --node`). The WASM data plane is unchanged: it still sends
// whole underlay frames (outer Ethernet + IPv4 [+ UDP + VXLAN] + inner) on
// its underlay port and takes them in on it. This adapter, run by the
// forwarding worker, turns one into the other:
//
//   tx  the outer Ethernet destination (a peer node's underlay MAC, from the
//       plan's neighbour table) picks the peer; the bytes after the outer
//       headers are what goes out: the VXLAN header and inner frame on a UDP
//       socket, the inner IP packet on the raw IP-in-IP socket. The kernel
//       writes the outer headers itself, so what crosses the hosts' network
//       is genuine VXLAN / IP-in-IP. Datagrams are gathered into runs and
//       sent with UDP GSO or sendmmsg (socket-underlay-tx.ts); for VXLAN the
//       inner flow's hash picks the sending socket, and so the source port.
//   rx  recvmsg() lands a datagram in a frame slot far enough in to write
//       synthetic outer headers in front of it: Ethernet (this node's
//       underlay MAC <- the sender's, found by its address) + IPv4 (valid
//       checksum: the data plane checks it) + UDP for VXLAN; a raw IP-in-IP
//       socket hands over the whole IPv4 packet, so only Ethernet is added.
//       With UDP_GRO the kernel may hand over several datagrams of one
//       sender coalesced (a control message gives their size): the first
//       stays in its slot, the rest wait in a side buffer and fill the
//       next slots, one datagram each. The data plane then decapsulates each
//       as if it came off a wire.
//
// The synthetic MACs never appear on the wire. The outer UDP checksum is the
// kernel's to verify (a bad one is dropped before recvmsg, counted in the
// host's Udp InCsumErrors). Nothing here allocates or throws per packet:
// failures are counted.
import { parseMac } from '../model/addr.ts';
import { ipv4ToInt } from '../model/addr.ts';
import { EAGAIN, addressTable, bufferAddress, memcpyAt, recvmsgAt, setsockoptInt } from '../io/libc.ts';
import { MSG_DONTWAIT, MSG_TRUNC, SOCKADDR_IN_LEN, SOL_UDP, UDP_GRO, sockaddrIn } from '../io/socket.ts';
import { MSGHDR_LEN, IOVEC_LEN, MSG_NAME, MSG_NAMELEN, MSG_IOV, MSG_IOVLEN, MSG_CONTROL, MSG_CONTROLLEN, cmsgLen, putU64 } from '../io/msghdr.ts';
import { DatagramBatch, MAX_GSO_BYTES } from './socket-underlay-tx.ts';
import { fillIpv4HeaderChecksum } from './internet-checksum.ts';
import type { SocketUnderlayConfig, SocketUnderlayStats } from './engine-protocol.ts';

const ETH_HLEN = 14;
const IPV4_HLEN = 20;
const UDP_HLEN = 8;
/** Outer Ethernet + IPv4 + UDP in front of a VXLAN datagram. */
const VXLAN_OUTER = ETH_HLEN + IPV4_HLEN + UDP_HLEN;
const VXLAN_HLEN = 8;
/** room for the control messages recvmsg may return (UDP_GRO: one int) */
const CONTROL_ROOM = 64;

export class SocketUnderlay {
  readonly stats: SocketUnderlayStats = {
    kind: 'vxlan', txPath: 'sendmmsg', rxPath: 'recvmsg', sourcePorts: [],
    txPackets: 0, txBytes: 0, txSends: 0, txGsoSends: 0, txGsoRefused: 0, txErrors: 0, txNoPeer: 0, txNotTunnel: 0, lastTxErrno: 0,
    rxPackets: 0, rxBytes: 0, rxGroBatches: 0, rxErrors: 0, toPodSuperFrames: 0, toPodCoalesced: 0, toPodErrors: 0, rxUnknownPeer: 0, rxTooBig: 0, rxTooShort: 0, lastRxErrno: 0,
  };
  private readonly fd: number;
  /** the sockets datagrams are sent from (VXLAN: one source port each, picked by the inner flow's hash) */
  private readonly txFds: number[];
  private readonly batch: DatagramBatch;
  /** recvmsg's msghdr, its one iovec (pointed at the slot each call) and its control room */
  private readonly rmsg = new Int32Array(MSGHDR_LEN / 4);
  private readonly rmsgAddr = bufferAddress(this.rmsg);
  private readonly riov = new Int32Array(IOVEC_LEN / 4);
  private readonly rctl = new Int32Array(CONTROL_ROOM / 4);
  /** datagrams of a coalesced (GRO) read still to hand out: in `held`, from `heldOff`, `heldSize` bytes each, `heldEnd` in all */
  private readonly held: Uint8Array;
  private readonly heldAddr: number;
  private heldOff = 0;
  private heldEnd = 0;
  private heldSize = 0;
  private heldPeer = 0;
  private readonly vxlan: boolean;
  private readonly port: number;
  /** peer i: underlay MAC as (first 2 bytes, last 4 bytes), address as a signed 32-bit big-endian int, sockaddr_in */
  private readonly peerMacHi: Int32Array;
  private readonly peerMacLo: Int32Array;
  private readonly peerIp: Int32Array;
  private readonly peerMac: Uint8Array;
  private readonly peerSa: number[];
  private readonly saBuf: Uint8Array;
  private readonly localIp: number;
  private readonly ulMac: Uint8Array;
  /** recvmsg's sender address, reused by every read */
  private readonly from = new Uint8Array(SOCKADDR_IN_LEN + 4);
  private readonly fromView = new DataView(this.from.buffer);
  private readonly fromAddr = bufferAddress(this.from);
  /** per slot: where its vnet header starts (memory offset), and where a datagram is read to (absolute) */
  private readonly slotOff: number[];
  private readonly recvAddr: number[];
  private readonly recvCap: number;
  private readonly hdr: number;

  constructor(
    cfg: SocketUnderlayConfig,
    private readonly mem8: Uint8Array,
    private readonly memBase: number,
    ulMac: string,
    private readonly vnetLen: number,
    slotOffsets: number[],
    readCapacity: number,
    /**
     * bytes the node's underlay vnet header has beyond `vnetLen` (a node that
     * also sends through a UDP-tunnel GSO TAP: lab/host-tap-underlay.ts), read
     * there for every underlay frame: cleared too, in front of each datagram
     */
    private readonly hdrExtra = 0,
  ) {
    this.stats.kind = cfg.kind;
    this.fd = cfg.fd;
    this.txFds = cfg.txFds.length ? cfg.txFds.slice() : [cfg.fd];
    this.stats.sourcePorts = cfg.txPorts.slice();
    this.batch = new DatagramBatch(cfg.gso, this.stats);
    this.stats.txPath = cfg.gso ? 'udp-gso' : 'sendmmsg';
    this.vxlan = cfg.kind === 'vxlan';
    this.port = cfg.port;
    const n = cfg.peers.length;
    this.peerMacHi = new Int32Array(n);
    this.peerMacLo = new Int32Array(n);
    this.peerIp = new Int32Array(n);
    this.peerMac = new Uint8Array(n * 6);
    this.saBuf = new Uint8Array(Math.max(1, n) * SOCKADDR_IN_LEN);
    cfg.peers.forEach((p, i) => {
      const m = parseMac(p.mac);
      this.peerMac.set(m, i * 6);
      this.peerMacHi[i] = (m[0] << 8) | m[1];
      this.peerMacLo[i] = (m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5];
      this.peerIp[i] = ipv4ToInt(p.ip) | 0;
      sockaddrIn(p.ip, this.vxlan ? cfg.port : 0, this.saBuf.subarray(i * SOCKADDR_IN_LEN));
    });
    this.peerSa = addressTable(bufferAddress(this.saBuf), SOCKADDR_IN_LEN, n);
    this.localIp = ipv4ToInt(cfg.localIp);
    this.ulMac = new Uint8Array(parseMac(ulMac));
    this.hdr = this.vxlan ? VXLAN_OUTER : ETH_HLEN;
    this.slotOff = slotOffsets.slice();
    this.recvAddr = addressTable(0, 0, 0);
    for (const off of slotOffsets) this.recvAddr.push(memBase + off + vnetLen + this.hdr);
    this.recvCap = readCapacity - vnetLen - this.hdr;
    // coalesced reads only where a slot holds the largest one: else the kernel's GRO is turned back off
    const gro = cfg.gro && this.recvCap >= MAX_GSO_BYTES;
    if (cfg.gro && !gro) setsockoptInt(this.fd, SOL_UDP, UDP_GRO, 0);
    this.stats.rxPath = gro ? 'udp-gro' : 'recvmsg';
    this.held = new Uint8Array(gro ? MAX_GSO_BYTES : 8); // never read without GRO; not empty, so it has an address
    this.heldAddr = bufferAddress(this.held);
    const m = this.rmsg;
    putU64(m, MSG_NAME, this.fromAddr);
    putU64(m, MSG_IOV, bufferAddress(this.riov));
    putU64(m, MSG_IOVLEN, 1);
    putU64(m, MSG_CONTROL, bufferAddress(this.rctl));
    putU64(this.riov, 8, this.recvCap);
  }

  /**
   * Send one underlay frame the data plane queued (vnet header at memory
   * offset `start`, `length` bytes with it) to the peer owning its outer
   * destination MAC.
   */
  send(start: number, length: number): void {
    const m = this.mem8;
    const f = start + this.vnetLen;
    const s = this.stats;
    const hi = (m[f] << 8) | m[f + 1];
    const lo = (m[f + 2] << 24) | (m[f + 3] << 16) | (m[f + 4] << 8) | m[f + 5];
    let peer = -1;
    for (let i = 0; i < this.peerIp.length; i++) {
      if (this.peerMacLo[i] === lo && this.peerMacHi[i] === hi) { peer = i; break; }
    }
    if (peer < 0) { s.txNoPeer++; return; }
    const ip = f + ETH_HLEN;
    const frameLen = length - this.vnetLen;
    if (frameLen < ETH_HLEN + IPV4_HLEN || m[f + 12] !== 0x08 || m[f + 13] !== 0x00) { s.txNotTunnel++; return; }
    const ihl = (m[ip] & 0x0f) << 2;
    let payload: number;
    if (this.vxlan) {
      const udp = ip + ihl;
      if (m[ip + 9] !== 17 || frameLen < ETH_HLEN + ihl + UDP_HLEN || ((m[udp + 2] << 8) | m[udp + 3]) !== this.port) { s.txNotTunnel++; return; }
      payload = udp + UDP_HLEN;
    } else {
      if (m[ip + 9] !== 4 || frameLen < ETH_HLEN + ihl) { s.txNotTunnel++; return; }
      payload = ip + ihl;
    }
    const len = start + length - payload;
    const fds = this.txFds;
    const fd = fds.length === 1 ? fds[0] : fds[this.flowHash(payload + VXLAN_HLEN, len - VXLAN_HLEN) % fds.length];
    this.batch.add(fd, this.peerSa[peer], this.memBase + payload, len);
  }

  /** Send the datagrams gathered by send(): call once the round's tx entries are handed over (their slots stay valid until then). */
  flush(): void {
    this.batch.flush();
    if (!this.batch.usesGso) this.stats.txPath = 'sendmmsg';
  }

  /**
   * A hash of an inner Ethernet frame's IPv4 addresses, protocol and (TCP,
   * UDP, unfragmented) ports: the same for every packet of a flow. What it
   * cannot read (not IPv4, too short) hashes to 0: one socket for them all.
   */
  private flowHash(f: number, len: number): number {
    const m = this.mem8;
    if (len < ETH_HLEN + IPV4_HLEN || m[f + 12] !== 0x08 || m[f + 13] !== 0x00) return 0;
    const ip = f + ETH_HLEN;
    const ihl = (m[ip] & 0x0f) << 2;
    const proto = m[ip + 9];
    let h = Math.imul((m[ip + 12] << 24) | (m[ip + 13] << 16) | (m[ip + 14] << 8) | m[ip + 15], 0x9e3779b1);
    h = Math.imul(h ^ ((m[ip + 16] << 24) | (m[ip + 17] << 16) | (m[ip + 18] << 8) | m[ip + 19]), 0x85ebca6b);
    h ^= proto;
    const unfragmented = (m[ip + 6] & 0x1f) === 0 && m[ip + 7] === 0;
    if ((proto === 6 || proto === 17) && unfragmented && ihl >= IPV4_HLEN && len >= ETH_HLEN + ihl + 4) {
      const l4 = ip + ihl;
      h = Math.imul(h ^ ((m[l4] << 24) | (m[l4 + 1] << 16) | (m[l4 + 2] << 8) | m[l4 + 3]), 0xc2b2ae35);
    }
    h ^= h >>> 16;
    return h >>> 0;
  }

  /**
   * Read one datagram into slot `slot` and dress it as an underlay frame.
   * Returns the bytes of the slot to process (vnet header + frame), 0 when
   * the datagram was dropped (counted; read on), or -errno (-EAGAIN: none left).
   */
  recv(slot: number): number {
    if (this.heldOff < this.heldEnd) return this.nextHeld(slot);
    const s = this.stats;
    const msg = this.rmsg;
    msg[MSG_NAMELEN >> 2] = SOCKADDR_IN_LEN;
    putU64(msg, MSG_CONTROLLEN, CONTROL_ROOM);
    putU64(this.riov, 0, this.recvAddr[slot]);
    const r = recvmsgAt(this.fd, this.rmsgAddr, MSG_DONTWAIT | MSG_TRUNC);
    if (r < 0) {
      if (r !== -EAGAIN) { s.rxErrors++; s.lastRxErrno = -r; }
      return r;
    }
    if (r > this.recvCap) { s.rxTooBig++; return 0; }
    const src = this.fromView.getInt32(4, false);
    let peer = -1;
    for (let i = 0; i < this.peerIp.length; i++) {
      if (this.peerIp[i] === src) { peer = i; break; }
    }
    if (peer < 0) { s.rxUnknownPeer++; return 0; }
    const size = this.groSize();
    if (size > 0 && size < r) {
      // coalesced: keep the first datagram here, the rest for the next slots
      s.rxGroBatches++;
      memcpyAt(this.heldAddr, this.recvAddr[slot] + size, r - size);
      this.heldOff = 0;
      this.heldEnd = r - size;
      this.heldSize = size;
      this.heldPeer = peer;
      return this.dress(slot, peer, size);
    }
    return this.dress(slot, peer, r);
  }

  /** Datagrams of a coalesced read wait for slots: read on even when the socket is not readable. */
  get holding(): boolean {
    return this.heldOff < this.heldEnd;
  }

  /** The UDP_GRO control message's segment size, 0 when recvmsg returned none. */
  private groSize(): number {
    const c = this.rctl;
    // msg_controllen as the kernel left it (fits 32 bits), then the first cmsghdr: len, level, type, int data
    const room = this.rmsg[MSG_CONTROLLEN >> 2];
    if (room < cmsgLen(4) || c[2] !== SOL_UDP || c[3] !== UDP_GRO) return 0;
    return c[4];
  }

  /** The next held datagram into slot `slot`. */
  private nextHeld(slot: number): number {
    const n = Math.min(this.heldSize, this.heldEnd - this.heldOff);
    memcpyAt(this.recvAddr[slot], this.heldAddr + this.heldOff, n);
    this.heldOff += n;
    return this.dress(slot, this.heldPeer, n);
  }

  /** Write the synthetic outer headers in front of the `r`-byte datagram from peer `peer` in slot `slot`; the slot's length to process, or 0 (dropped, counted). */
  private dress(slot: number, peer: number, r: number): number {
    const s = this.stats;
    const src = this.peerIp[peer];
    const m = this.mem8;
    const v = this.slotOff[slot];
    const f = v + this.vnetLen;
    m.fill(0, v - this.hdrExtra, f); // no GSO, no partial checksum: a plain frame
    // Ethernet: to this node from the peer, IPv4
    for (let i = 0; i < 6; i++) {
      m[f + i] = this.ulMac[i];
      m[f + 6 + i] = this.peerMac[peer * 6 + i];
    }
    m[f + 12] = 0x08;
    m[f + 13] = 0x00;
    if (this.vxlan) {
      const ip = f + ETH_HLEN;
      const total = IPV4_HLEN + UDP_HLEN + r;
      m[ip] = 0x45; m[ip + 1] = 0;
      m[ip + 2] = total >>> 8; m[ip + 3] = total & 0xff;
      m[ip + 4] = 0; m[ip + 5] = 0; m[ip + 6] = 0; m[ip + 7] = 0; // id 0, no flags
      m[ip + 8] = 64; m[ip + 9] = 17; m[ip + 10] = 0; m[ip + 11] = 0;
      m[ip + 12] = src >>> 24; m[ip + 13] = (src >>> 16) & 0xff; m[ip + 14] = (src >>> 8) & 0xff; m[ip + 15] = src & 0xff;
      const dst = this.localIp;
      m[ip + 16] = dst >>> 24; m[ip + 17] = (dst >>> 16) & 0xff; m[ip + 18] = (dst >>> 8) & 0xff; m[ip + 19] = dst & 0xff;
      fillIpv4HeaderChecksum(m, ip);
      const udp = ip + IPV4_HLEN;
      const udpLen = UDP_HLEN + r;
      m[udp] = this.from[2]; m[udp + 1] = this.from[3]; // the sender's port, as it sent it
      m[udp + 2] = this.port >>> 8; m[udp + 3] = this.port & 0xff;
      m[udp + 4] = udpLen >>> 8; m[udp + 5] = udpLen & 0xff;
      m[udp + 6] = 0; m[udp + 7] = 0; // checksum: none (the kernel checked the real one)
    } else if (r < IPV4_HLEN) {
      s.rxTooShort++;
      return 0;
    }
    s.rxPackets++;
    s.rxBytes += r;
    return this.vnetLen + this.hdr + r;
  }
}
