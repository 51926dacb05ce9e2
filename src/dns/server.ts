// The cluster DNS pod's server, inside the podwire process: UDP and TCP
// sockets bound to 0.0.0.0:53 in the DNS pod's network namespace (opened
// with setns(2), src/io/setns.ts), answered on the main thread by
// DnsResponder; names outside the cluster domain go to the upstream
// resolver when the lab names one (upstream.ts).
//
// UDP: waiting costs the forwarding worker nothing: a poll(2) on the
// sockets (UDP 53, the upstream's UDP socket) and an eventfd runs on a libuv
// pool thread (koffi's async call) and calls back on the main thread when a
// datagram arrives (or close() signals the eventfd). TCP: the listening
// socket is handed to a net.Server (its connections are in the namespace
// too): messages with a two-byte length prefix (RFC 1035 4.2.2), several per
// connection, answered in the order they complete (RFC 7766 6.2.1.1); a
// connection idle for TCP_IDLE_MS is closed (RFC 7766 6.2.3).
import koffi from 'koffi';
import { Server, type Socket } from 'node:net';
import { EAGAIN, POLLIN, bufferAddress, close, recvfromAt, sendtoAt } from '../io/libc.ts';
import { EventFd } from '../io/eventfd.ts';
import { MSG_DONTWAIT, SOCKADDR_IN_LEN } from '../io/socket.ts';
import { tcpListenerInNetns, udpSocketInNetns } from '../io/setns.ts';
import type { DnsUpstream } from '../model/dns.ts';
import { DnsResponder, chaseQuery, servfail, withChasedAnswers, type DnsServiceRecord, type DnsStats, type ResponderOptions, type Transport } from './responder.ts';
import { UpstreamResolver, type UpstreamStats } from './upstream.ts';

const lib = koffi.load('libc.so.6');
const _poll = lib.func('int poll(uintptr_t fds, unsigned long nfds, int timeout)');

/** Datagrams answered per wake-up before polling again (the others wait in the socket's queue). */
const BATCH = 64;
/** Larger than any UDP datagram: nothing is ever cut short. */
const RECV_BUFFER = 65536;
/** A TCP connection with no message for this long is closed (CoreDNS's read timeout is 10 s too). */
export const TCP_IDLE_MS = 10_000;
/** TCP connections open at once; past this, new ones are closed at once (counted). */
export const TCP_MAX_CONNECTIONS = 256;

export interface DnsServerStats extends DnsStats {
  /** sendto(2) failed */
  sendErrors: number;
  /** recvfrom(2) failed other than with EAGAIN */
  recvErrors: number;
  /** TCP connections accepted, closed for idling, refused for being too many */
  tcpConnections: number;
  tcpIdleClosed: number;
  tcpRefused: number;
  /** queries answer() threw on (a bug): answered SERVFAIL */
  internalErrors: number;
  /** forwarded queries: over UDP, over TCP, that got no answer (SERVFAIL), stray datagrams ignored */
  upstream?: UpstreamStats;
}

/** Where the server listens and what it knows besides the Services. */
export interface DnsServerOptions extends Omit<ResponderOptions, 'upstream'> {
  port?: number;
  upstream?: DnsUpstream;
}

export class DnsServer {
  readonly responder: DnsResponder;
  private readonly wake = new EventFd();
  /** struct pollfd[3]: { int fd; short events; short revents } for the socket, the eventfd and the upstream socket */
  private readonly pollfds = new Int32Array(6);
  private nfds = 2;
  private readonly tcp = new Server();
  private readonly tcpSockets = new Set<Socket>();
  private tcpConnections = 0;
  private tcpIdleClosed = 0;
  private tcpRefused = 0;
  private internalErrors = 0;
  readonly upstream?: UpstreamResolver;
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

  private constructor(readonly fd: number, readonly tcpFd: number, readonly netns: string, services: DnsServiceRecord[], opts: DnsServerOptions) {
    this.responder = new DnsResponder(services, { ...opts, upstream: opts.upstream !== undefined });
    this.pollfds[0] = fd;
    this.pollfds[2] = this.wake.fd;
    if (opts.upstream) {
      this.upstream = new UpstreamResolver(netns, opts.upstream);
      this.pollfds[4] = this.upstream.fd;
      this.nfds = 3;
    }
    this.tcp.on('connection', (sock) => this.accept(sock));
    this.tcp.on('error', () => { /* accept(2) failures (e.g. EMFILE): the server keeps listening */ });
    this.tcp.listen({ fd: tcpFd });
  }

  /** Bind UDP and TCP 0.0.0.0:53 inside pw- namespace `netns` and start answering. */
  static start(netns: string, services: DnsServiceRecord[], opts: DnsServerOptions = {}): DnsServer {
    const port = opts.port ?? 53;
    const fd = udpSocketInNetns(netns, port);
    let tcpFd: number;
    try {
      tcpFd = tcpListenerInNetns(netns, port);
    } catch (e) {
      close(fd);
      throw e;
    }
    const s = new DnsServer(fd, tcpFd, netns, services, opts);
    s.arm();
    return s;
  }

  /** Replace the records (e.g. after `podwire apply` changed the lab's Services). Takes effect for the next query. */
  setRecords(services: DnsServiceRecord[]): void {
    this.responder.setRecords(services);
  }

  get stats(): DnsServerStats {
    return {
      ...this.responder.stats, sendErrors: this.sendErrors, recvErrors: this.recvErrors,
      tcpConnections: this.tcpConnections, tcpIdleClosed: this.tcpIdleClosed, tcpRefused: this.tcpRefused, internalErrors: this.internalErrors,
      ...(this.upstream ? { upstream: { ...this.upstream.stats } } : {}),
    };
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
    for (const sock of this.tcpSockets) sock.destroy();
    await new Promise<void>((r) => this.tcp.close(() => r()));
    this.upstream?.close();
    close(this.fd);
    this.wake.close();
  }

  /** Wait (on a pool thread) until a query arrives or close() signals. */
  private arm(): void {
    if (this.closing) return;
    // events is the low half of each second int (little-endian), revents the high half: this clears it
    this.pollfds[1] = POLLIN;
    this.pollfds[3] = POLLIN;
    this.pollfds[5] = POLLIN;
    this.polling = true;
    _poll.async(this.pollAddr, this.nfds, -1, (err: unknown, r: number) => {
      this.polling = false;
      if (this.closing) { this.idle?.(); return; }
      if (err || r < 0) { setTimeout(() => this.arm(), 100); return; } // EINTR or worse: wait again, never spin
      this.serve();
      this.upstream?.drain();
      this.arm();
    });
  }

  /** One TCP connection: length-prefixed queries, answered as they complete, closed when idle. */
  private accept(sock: Socket): void {
    if (this.tcpSockets.size >= TCP_MAX_CONNECTIONS) { this.tcpRefused++; sock.destroy(); return; }
    this.tcpConnections++;
    this.tcpSockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.setNoDelay(true);
    sock.setTimeout(TCP_IDLE_MS, () => { this.tcpIdleClosed++; sock.destroy(); });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.tcpSockets.delete(sock));
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = Uint8Array.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        this.handle(msg, 'tcp', (reply) => {
          if (sock.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([prefix, reply]));
        }, () => sock.destroy());
      }
    });
  }

  /**
   * Answer one query: at once from the zone, or after the upstream answers
   * (SERVFAIL when it does not). `drop`: the query gets no answer (over TCP
   * the connection is closed, as a message that is not a query ends it).
   */
  private handle(query: Uint8Array, transport: Transport, send: (reply: Uint8Array) => void, drop: () => void): void {
    let o: ReturnType<DnsResponder['answer']>;
    try {
      o = this.responder.answer(query, transport);
    } catch {
      // answer() is written not to throw; if it ever does, this query gets SERVFAIL and the server lives on
      this.internalErrors++;
      send(servfail(query));
      return;
    }
    if ('reply' in o) {
      const { reply, chase } = o;
      if (!chase || !this.upstream) { send(reply); return; }
      // an ExternalName: the upstream's records for its target follow the CNAME (its CNAME alone if none come)
      void this.upstream.ask(chaseQuery(chase), transport === 'tcp').then((up) => send(withChasedAnswers(reply, up, chase.limit)));
      return;
    }
    if ('drop' in o || !this.upstream) { drop(); return; }
    void this.upstream.ask(query, transport === 'tcp').then((reply) => send(reply ?? servfail(query)));
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
      // the sender's address is copied: a forwarded query is answered after this buffer is reused
      const to = this.from.slice(0, SOCKADDR_IN_LEN);
      this.handle(Uint8Array.from(this.rx.subarray(0, n)), 'udp', (reply) => {
        if (this.closed) return;
        const r = sendtoAt(this.fd, bufferAddress(reply), reply.length, MSG_DONTWAIT, bufferAddress(to), SOCKADDR_IN_LEN);
        if (r < 0) this.sendErrors++;
      }, () => {});
    }
  }
}
