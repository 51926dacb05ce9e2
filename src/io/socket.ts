// The sockets a node's underlay uses when its peers run on other hosts
// (`podwire up --node`): a UDP socket on the VXLAN port, or a raw IP socket
// for protocol 4 (IP-in-IP). The kernel adds the outer IPv4 (and UDP)
// header on the way out, so the wire carries genuine VXLAN / IP-in-IP that
// the host routes like any traffic of its own.
//
// Cold-path helpers here throw; the hot path (src/dataplane/socket-underlay.ts)
// calls sendtoAt/recvfromAt, which never throw.
import {
  O_CLOEXEC, bindAt, bufferAddress, close, getsockoptInt, getsocknameAt, setsockoptInt, socket, sysError,
} from './libc.ts';
import { ipv4ToInt } from '../model/addr.ts';

// <sys/socket.h>, <netinet/in.h> (Linux, every architecture podwire runs on)
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const IPPROTO_IP = 0;
export const IPPROTO_IPIP = 4;
export const IPPROTO_UDP = 17;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_NO_CHECK = 11;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const IP_MTU_DISCOVER = 10;
export const IP_PMTUDISC_DONT = 0;
export const SOL_UDP = 17;
/** <linux/udp.h>: per-send segmentation size (cmsg u16 or socket option int), since Linux 4.18 */
export const UDP_SEGMENT = 103;
/** <linux/udp.h>: receive coalesced datagrams, the segment size in a cmsg (int), since Linux 5.0 */
export const UDP_GRO = 104;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;

/** sizeof(struct sockaddr_in) */
export const SOCKADDR_IN_LEN = 16;

/** struct sockaddr_in { sa_family_t sin_family; in_port_t sin_port (BE); struct in_addr sin_addr (BE); char zero[8]; } */
export function sockaddrIn(ip: string, port: number, into: Uint8Array<ArrayBufferLike> = new Uint8Array(SOCKADDR_IN_LEN)): Uint8Array<ArrayBufferLike> {
  const v = new DataView(into.buffer, into.byteOffset, SOCKADDR_IN_LEN);
  into.fill(0, 0, SOCKADDR_IN_LEN);
  v.setUint16(0, AF_INET, true); // host order (little-endian on x86_64/aarch64)
  v.setUint16(2, port, false);
  v.setUint32(4, ipv4ToInt(ip), false);
  return into;
}

export type UnderlaySocketKind = 'vxlan' | 'ipip';

/**
 * UDP offloads asked of the kernel for a VXLAN underlay; each also needs the
 * kernel to accept its socket option. PODWIRE_UDP_GSO=0 / PODWIRE_UDP_GRO=0
 * turn one off (to measure the other path, or to exercise the fallback).
 */
export interface UdpOffloads { gso: boolean; gro: boolean }
export function udpOffloadsFromEnv(env: NodeJS.ProcessEnv = process.env): UdpOffloads {
  return { gso: env.PODWIRE_UDP_GSO !== '0', gro: env.PODWIRE_UDP_GRO !== '0' };
}

/**
 * Sockets a VXLAN node sends from, each bound to its own ephemeral port:
 * the inner flow's hash picks one, so flows leave with different source
 * ports (RFC 7348 section 5: entropy for the receivers' ECMP/RSS), as the
 * kernel's vxlan device does by hashing into the local port range.
 */
export const VXLAN_SOURCE_PORTS = 8;

/** Socket buffers asked for (as root, past net.core.[rw]mem_max): a round of segments must fit. */
const SOCKET_BUFFER = 4 << 20;

/**
 * A node's underlay socket, bound to the node's address (`localIp`): UDP on
 * `port` for VXLAN, or raw IPPROTO_IPIP (needs root; receives whole IPv4
 * packets, outer header included). Blocking for sends (a full send buffer
 * holds the forwarding loop back instead of dropping), reads use
 * MSG_DONTWAIT. VXLAN goes out as Linux's vxlan device sends it by default:
 * UDP checksum 0 (SO_NO_CHECK) and DF clear (IP_PMTUDISC_DONT).
 */
export class UnderlaySocket {
  private closed = false;
  private constructor(
    readonly fd: number, readonly kind: UnderlaySocketKind, readonly localIp: string, readonly port: number,
    /** VXLAN: the sockets frames are sent from (one source port each); IP-in-IP: [fd] (no ports to vary) */
    readonly txFds: number[],
    /** their bound source ports (VXLAN), in txFds order */
    readonly txPorts: number[],
    /** what the kernel accepted of what was asked */
    readonly offloads: UdpOffloads,
  ) {}

  /**
   * Open the node's socket; for VXLAN also its pool of sending sockets.
   * UDP GSO needs UDP checksums (the kernel refuses it with SO_NO_CHECK), so
   * with GSO the datagrams carry one (computed by the kernel or the device);
   * without it they go out as Linux's vxlan device sends over IPv4 by
   * default, checksum 0.
   */
  static open(kind: UnderlaySocketKind, localIp: string, port: number, want: UdpOffloads = { gso: false, gro: false }): UnderlaySocket {
    const what = kind === 'vxlan' ? `UDP ${localIp}:${port}` : `raw IP-in-IP socket on ${localIp}`;
    const opened: number[] = [];
    try {
      const fd = openOne(kind, localIp, kind === 'vxlan' ? port : 0, what, opened);
      if (kind === 'ipip') return new UnderlaySocket(fd, kind, localIp, port, [fd], [], { gso: false, gro: false });
      // probes: setting the socket-wide segment size to 0 (none) is harmless and fails where UDP_SEGMENT is unknown
      const gso = want.gso && setsockoptInt(fd, SOL_UDP, UDP_SEGMENT, 0) === 0;
      const gro = want.gro && setsockoptInt(fd, SOL_UDP, UDP_GRO, 1) === 0;
      const txFds: number[] = [];
      const txPorts: number[] = [];
      for (let i = 0; i < VXLAN_SOURCE_PORTS; i++) {
        const t = openOne(kind, localIp, 0, `${what} (sending socket ${i})`, opened, true);
        txFds.push(t);
        txPorts.push(boundPort(t));
      }
      for (const t of [fd, ...txFds]) {
        if (!gso) check(setsockoptInt(t, SOL_SOCKET, SO_NO_CHECK, 1), 'setsockopt(SO_NO_CHECK)', what);
      }
      return new UnderlaySocket(fd, kind, localIp, port, txFds, txPorts, { gso, gro });
    } catch (e) {
      for (const f of opened) close(f);
      throw e;
    }
  }

  /** Bytes the kernel holds for the socket's receive queue (SO_RCVBUF as it reports it). */
  receiveBuffer(): number {
    return getsockoptInt(this.fd, SOL_SOCKET, SO_RCVBUF);
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.txFds) if (t !== this.fd) close(t);
    const r = close(this.fd);
    if (r < 0) throw sysError('close', `underlay socket ${this.localIp}`, r);
  }
}

/** One socket bound to localIp:port (port 0: an ephemeral one), recorded in `opened` for the caller's cleanup. */
function openOne(kind: UnderlaySocketKind, localIp: string, port: number, what: string, opened: number[], sendOnly = false): number {
  const fd = kind === 'vxlan'
    ? socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP)
    : socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_IPIP);
  if (fd < 0) throw sysError('socket', what, fd);
  opened.push(fd);
  if (kind === 'vxlan' && !sendOnly) check(setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1), 'setsockopt(SO_REUSEADDR)', what);
  check(setsockoptInt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT), 'setsockopt(IP_MTU_DISCOVER)', what);
  // the *FORCE variants pass the sysctl caps (root); fall back to what the caps allow.
  // A sending socket receives nothing (no one sends to its port): the smallest receive buffer
  if (sendOnly) setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, 1);
  else if (setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER) < 0) setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER);
  if (setsockoptInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCKET_BUFFER) < 0) setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER);
  // a raw socket's "port" is its protocol; bound to the address, it only sees packets for it
  const sa = sockaddrIn(localIp, port);
  const r = bindAt(fd, bufferAddress(sa), SOCKADDR_IN_LEN);
  if (r < 0) {
    const e = sysError('bind', what, r);
    if (-r === 99 /* EADDRNOTAVAIL */) e.message += ` — is ${localIp} an address of this host (nodes[].address)?`;
    if (-r === 98 /* EADDRINUSE */) e.message += ' — another podwire node or a vxlan device already uses it';
    throw e;
  }
  return fd;
}

/** The port a socket is bound to (getsockname). */
function boundPort(fd: number): number {
  const sa = new Uint8Array(SOCKADDR_IN_LEN + 4);
  const len = new Uint32Array(sa.buffer, SOCKADDR_IN_LEN, 1);
  len[0] = SOCKADDR_IN_LEN;
  const r = getsocknameAt(fd, bufferAddress(sa), bufferAddress(sa) + SOCKADDR_IN_LEN);
  if (r < 0) throw sysError('getsockname', 'underlay sending socket', r);
  return (sa[2] << 8) | sa[3];
}

function check(r: number, call: string, what: string): void {
  if (r < 0) throw sysError(call, what, r);
}
