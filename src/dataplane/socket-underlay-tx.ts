// Sending a socket underlay's datagrams in batches, not one sendto each.
//
// The data plane segments a TCP super-frame for the underlay and encapsulates
// every segment: consecutive tx entries are then datagrams of one size (the
// last may be shorter) to one peer, each in its own frame slot. Two ways to
// send such a run with one system call, both gathering the slots in place
// through an iovec per datagram (no copy):
//
//   gso   sendmsg() with a UDP_SEGMENT control message (gso_size = the
//         datagram size): the kernel takes the concatenated payloads as one
//         buffer and cuts it back into datagrams of gso_size — in software
//         just before the device, or not at all where the device (veth, a
//         NIC with USO) takes the whole super-packet. At most
//         UDP_MAX_SEGMENTS (64) datagrams and 65507 bytes a call; only equal
//         sizes but the last. Needs UDP checksums on.
//   mmsg  sendmmsg() of one message per datagram: any sizes and peers, still
//         one crossing into the kernel, but the kernel's UDP send path runs
//         once per datagram. The fallback where UDP_SEGMENT is refused.
//
// Nothing here allocates or throws per datagram: failures are counted.
import { sendmsgAt, sendmmsgAt, bufferAddress } from '../io/libc.ts';
import {
  IOVEC_LEN, MSGHDR_LEN, MMSGHDR_LEN, MSG_NAME, MSG_NAMELEN, MSG_IOV, MSG_IOVLEN, MSG_CONTROL, MSG_CONTROLLEN,
  cmsgLen, cmsgSpace, putU64,
} from '../io/msghdr.ts';
import { SOCKADDR_IN_LEN, SOL_UDP, UDP_SEGMENT } from '../io/socket.ts';
import type { SocketUnderlayStats } from './engine-protocol.ts';

/** UDP_MAX_SEGMENTS in include/linux/udp.h of the kernels podwire meets (64; newer kernels allow 128) */
export const MAX_BATCH = 64;
/** The most UDP payload one IPv4 datagram (and so one GSO send) carries: 65535 - 20 (IPv4) - 8 (UDP) */
export const MAX_GSO_BYTES = 65507;
const EINVAL = 22, EIO = 5, ENOPROTOOPT = 92;

export class DatagramBatch {
  /** one iovec per pending datagram */
  private readonly iov = new Int32Array(MAX_BATCH * IOVEC_LEN / 4);
  private readonly iovAddr = bufferAddress(this.iov);
  /** sendmsg's msghdr and its UDP_SEGMENT control message */
  private readonly msg = new Int32Array(MSGHDR_LEN / 4);
  private readonly msgAddr = bufferAddress(this.msg);
  private readonly cmsg = new Int32Array(cmsgSpace(4) / 4);
  private readonly cmsgAddr = bufferAddress(this.cmsg);
  /** sendmmsg's messages: message i gathers iovec i */
  private readonly mmsg = new Int32Array(MAX_BATCH * MMSGHDR_LEN / 4);
  private readonly mmsgAddr = bufferAddress(this.mmsg);

  // the run being gathered
  private count = 0;
  private fd = -1;
  private sa = 0;
  private segSize = 0;
  private bytes = 0;
  /** a datagram shorter than the first joined: it must be the last (gso) */
  private short = false;

  constructor(
    /** send runs with UDP_SEGMENT (else sendmmsg) */
    private gso: boolean,
    private readonly stats: SocketUnderlayStats,
  ) {
    putU64(this.cmsg, 0, cmsgLen(2));
    this.cmsg[2] = SOL_UDP;
    this.cmsg[3] = UDP_SEGMENT;
    putU64(this.msg, MSG_IOV, this.iovAddr);
    this.msg[MSG_NAMELEN >> 2] = SOCKADDR_IN_LEN;
    for (let i = 0; i < MAX_BATCH; i++) {
      const m = i * MMSGHDR_LEN;
      putU64(this.mmsg, m + MSG_IOV, this.iovAddr + i * IOVEC_LEN);
      putU64(this.mmsg, m + MSG_IOVLEN, 1);
      this.mmsg[(m + MSG_NAMELEN) >> 2] = SOCKADDR_IN_LEN;
    }
  }

  /** Whether runs still go out with UDP_SEGMENT (a refusal at run time switches to sendmmsg for good). */
  get usesGso(): boolean {
    return this.gso;
  }

  /** Queue `len` bytes at absolute address `addr` for socket `fd` to the sockaddr_in at `sa`; sends the run first when this one cannot join it. */
  add(fd: number, sa: number, addr: number, len: number): void {
    if (this.count > 0) {
      const joins = this.count < MAX_BATCH && fd === this.fd && (!this.gso || (
        sa === this.sa && !this.short && len <= this.segSize && this.bytes + len <= MAX_GSO_BYTES));
      if (!joins) this.flush();
    }
    const i = this.count++;
    if (i === 0) {
      this.fd = fd; this.sa = sa; this.segSize = len; this.bytes = 0; this.short = false;
    } else if (len < this.segSize) {
      this.short = true;
    }
    this.bytes += len;
    putU64(this.iov, i * IOVEC_LEN, addr);
    putU64(this.iov, i * IOVEC_LEN + 8, len);
    putU64(this.mmsg, i * MMSGHDR_LEN + MSG_NAME, sa);
  }

  /** Send what is gathered. */
  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    if (this.gso) {
      const msg = this.msg;
      putU64(msg, MSG_NAME, this.sa);
      putU64(msg, MSG_IOVLEN, n);
      // one datagram needs no segmenting: no control message
      if (n > 1) {
        this.cmsg[4] = this.segSize; // the u16 gso_size, little-endian, in the data's first bytes
        putU64(msg, MSG_CONTROL, this.cmsgAddr);
        putU64(msg, MSG_CONTROLLEN, cmsgSpace(2));
      } else {
        putU64(msg, MSG_CONTROL, 0);
        putU64(msg, MSG_CONTROLLEN, 0);
      }
      const r = sendmsgAt(this.fd, this.msgAddr, 0);
      const s = this.stats;
      s.txSends++;
      if (r >= 0) {
        s.txPackets += n;
        s.txBytes += r;
        if (n > 1) s.txGsoSends++;
        return;
      }
      if (n > 1 && (r === -EIO || r === -EINVAL || r === -ENOPROTOOPT)) {
        // the kernel will not segment for this socket or route: datagram by datagram from now on
        s.txGsoRefused++;
        s.lastTxErrno = -r;
        this.gso = false;
      } else {
        s.txErrors += n;
        s.lastTxErrno = -r;
        return;
      }
    }
    this.sendEach(n);
  }

  /** sendmmsg of the n gathered datagrams (each message names its own peer). */
  private sendEach(n: number): void {
    const s = this.stats;
    let done = 0;
    while (done < n) {
      const r = sendmmsgAt(this.fd, this.mmsgAddr + done * MMSGHDR_LEN, n - done, 0);
      s.txSends++;
      if (r <= 0) {
        // the first unsent message failed: count it and go on with the rest
        s.txErrors++;
        s.lastTxErrno = r < 0 ? -r : 0;
        done++;
        continue;
      }
      for (let i = done; i < done + r; i++) s.txBytes += this.iov[(i * IOVEC_LEN + 8) >> 2];
      s.txPackets += r;
      done += r;
    }
  }
}
