// The cluster DNS pod's server, inside the podwire process: a UDP socket
// bound to 0.0.0.0:53 in the DNS pod's network namespace (opened with
// setns(2), src/io/setns.ts), answered on the main thread by DnsResponder.
//
// Waiting costs the forwarding worker nothing: a poll(2) on the socket and
// an eventfd runs on a libuv pool thread (koffi's async call) and calls back
// on the main thread when a query arrives (or close() signals the eventfd).
// The queries themselves are read and answered synchronously there.
import koffi from 'koffi';
import { EAGAIN, POLLIN, bufferAddress, close, recvfromAt, sendtoAt } from '../io/libc.ts';
import { EventFd } from '../io/eventfd.ts';
import { MSG_DONTWAIT, SOCKADDR_IN_LEN } from '../io/socket.ts';
import { udpSocketInNetns } from '../io/setns.ts';
import { DnsResponder, type DnsServiceRecord, type DnsStats } from './responder.ts';

const lib = koffi.load('libc.so.6');
const _poll = lib.func('int poll(uintptr_t fds, unsigned long nfds, int timeout)');

/** Datagrams answered per wake-up before polling again (the others wait in the socket's queue). */
const BATCH = 64;
/** Larger than any UDP datagram: nothing is ever cut short. */
const RECV_BUFFER = 65536;

export interface DnsServerStats extends DnsStats {
  /** sendto(2) failed */
  sendErrors: number;
  /** recvfrom(2) failed other than with EAGAIN */
  recvErrors: number;
}

export class DnsServer {
  readonly responder: DnsResponder;
  private readonly wake = new EventFd();
  /** struct pollfd[2]: { int fd; short events; short revents } for the socket and the eventfd */
  private readonly pollfds = new Int32Array(4);
  private readonly pollAddr = bufferAddress(this.pollfds);
  private readonly rx = Buffer.alloc(RECV_BUFFER);
  private readonly rxAddr = bufferAddress(this.rx);
  /** the sender's struct sockaddr_in, then its socklen_t */
  private readonly from = new Uint8Array(SOCKADDR_IN_LEN + 4);
  private readonly fromAddr = bufferAddress(this.from);
  private readonly fromLen = new Uint32Array(this.from.buffer, SOCKADDR_IN_LEN, 1);
  private sendErrors = 0;
  private recvErrors = 0;
  private polling = false;
  private closing = false;
  private closed = false;
  private idle?: () => void;

  private constructor(readonly fd: number, readonly netns: string, services: DnsServiceRecord[]) {
    this.responder = new DnsResponder(services);
    this.pollfds[0] = fd;
    this.pollfds[2] = this.wake.fd;
  }

  /** Bind UDP 0.0.0.0:53 inside pw- namespace `netns` and start answering. */
  static start(netns: string, services: DnsServiceRecord[], port = 53): DnsServer {
    const fd = udpSocketInNetns(netns, port);
    const s = new DnsServer(fd, netns, services);
    s.arm();
    return s;
  }

  /** Replace the records (e.g. after `podwire apply` changed the lab's Services). Takes effect for the next query. */
  setRecords(services: DnsServiceRecord[]): void {
    this.responder.setRecords(services);
  }

  get stats(): DnsServerStats {
    return { ...this.responder.stats, sendErrors: this.sendErrors, recvErrors: this.recvErrors };
  }

  /** Stop answering and close the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.polling) {
      const idle = new Promise<void>((r) => { this.idle = r; });
      this.wake.signal();
      await idle;
    }
    this.closed = true;
    close(this.fd);
    this.wake.close();
  }

  /** Wait (on a pool thread) until a query arrives or close() signals. */
  private arm(): void {
    if (this.closing) return;
    // events is the low half of each second int (little-endian), revents the high half: this clears it
    this.pollfds[1] = POLLIN;
    this.pollfds[3] = POLLIN;
    this.polling = true;
    _poll.async(this.pollAddr, 2, -1, (err: unknown, r: number) => {
      this.polling = false;
      if (this.closing) { this.idle?.(); return; }
      if (err || r < 0) { setTimeout(() => this.arm(), 100); return; } // EINTR or worse: wait again, never spin
      this.serve();
      this.arm();
    });
  }

  /** Answer what is queued on the socket, up to BATCH datagrams. */
  private serve(): void {
    for (let i = 0; i < BATCH; i++) {
      this.fromLen[0] = SOCKADDR_IN_LEN;
      const n = recvfromAt(this.fd, this.rxAddr, RECV_BUFFER, MSG_DONTWAIT, this.fromAddr, this.fromAddr + SOCKADDR_IN_LEN);
      if (n < 0) {
        if (n !== -EAGAIN) this.recvErrors++;
        return;
      }
      const reply = this.responder.respond(this.rx.subarray(0, n));
      if (!reply) continue;
      const r = sendtoAt(this.fd, bufferAddress(reply), reply.length, MSG_DONTWAIT, this.fromAddr, this.fromLen[0]);
      if (r < 0) this.sendErrors++;
    }
  }
}
