// The upstream resolver of cluster.dns.upstream, asked from inside the DNS
// pod's network namespace (the sockets are opened there with setns(2)), so
// forwarded queries leave through the pod's eth0 like CoreDNS's `forward`
// plugin would, never from the host.
//
// UDP first, with an ID of our own per query (the reply must come from the
// upstream's address and port, with that ID, or it is ignored: no spoofed
// answers); a truncated UDP reply (TC) is asked again over TCP when the
// client itself came over TCP — a UDP client gets the TC reply, and asks us
// over TCP, as it would ask any server.
import { Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { EAGAIN, bufferAddress, close, recvfromAt, sendtoAt } from '../io/libc.ts';
import { MSG_DONTWAIT, SOCKADDR_IN_LEN, sockaddrIn } from '../io/socket.ts';
import { tcpConnectInNetns, udpSocketInNetns } from '../io/setns.ts';
import type { DnsUpstream } from '../model/dns.ts';

/** How long a forwarded query waits for the upstream, per transport. */
export const UPSTREAM_TIMEOUT_MS = 2000;
const TC_BIT = 0x02; // in the third header byte
const RECV_BUFFER = 65536;

export interface UpstreamStats {
  /** queries sent to the upstream over UDP, and over TCP */
  udp: number;
  tcp: number;
  /** no answer in time, or a socket error: the client gets SERVFAIL */
  failures: number;
  /** datagrams on the upstream socket that were not the answer to a pending query */
  ignored: number;
}

interface Pending { originalId: number; resolve: (reply: Uint8Array | undefined) => void; timer: NodeJS.Timeout }

export class UpstreamResolver {
  /** the UDP socket, bound to an ephemeral port in the DNS namespace: the caller polls it and calls drain() */
  readonly fd: number;
  readonly stats: UpstreamStats = { udp: 0, tcp: 0, failures: 0, ignored: 0 };
  private readonly to: Uint8Array;
  private readonly pending = new Map<number, Pending>();
  private readonly rx = Buffer.alloc(RECV_BUFFER);
  private readonly from = new Uint8Array(SOCKADDR_IN_LEN + 4);
  private readonly fromLen = new Uint32Array(this.from.buffer, SOCKADDR_IN_LEN, 1);
  private readonly tcpSockets = new Set<Socket>();

  constructor(readonly netns: string, readonly upstream: DnsUpstream) {
    this.fd = udpSocketInNetns(netns, 0);
    this.to = sockaddrIn(upstream.ip, upstream.port);
  }

  /**
   * The upstream's answer to `query` (its ID restored), or undefined when
   * none came in time. `tcpOnTruncation`: a TC answer over UDP is asked
   * again over TCP.
   */
  async ask(query: Uint8Array, tcpOnTruncation: boolean): Promise<Uint8Array | undefined> {
    const reply = await this.askUdp(query);
    if (reply && tcpOnTruncation && reply.length > 2 && (reply[2] & TC_BIT)) return this.askTcp(query);
    if (!reply) this.stats.failures++;
    return reply;
  }

  /** Read every datagram waiting on the UDP socket, settling the queries they answer. */
  drain(): void {
    for (;;) {
      this.fromLen[0] = SOCKADDR_IN_LEN;
      const n = recvfromAt(this.fd, bufferAddress(this.rx), RECV_BUFFER, MSG_DONTWAIT, bufferAddress(this.from), bufferAddress(this.from) + SOCKADDR_IN_LEN);
      if (n < 0) { if (n === -EAGAIN) return; this.stats.ignored++; return; }
      // only the upstream's own address and port (sockaddr_in bytes 2..8) answer
      const fromUpstream = n >= 12 && this.from.subarray(2, 8).every((b, i) => b === this.to[2 + i]);
      const p = fromUpstream ? this.pending.get((this.rx[0] << 8) | this.rx[1]) : undefined;
      if (!p) { this.stats.ignored++; continue; }
      this.pending.delete((this.rx[0] << 8) | this.rx[1]);
      clearTimeout(p.timer);
      const reply = Uint8Array.from(this.rx.subarray(0, n));
      reply[0] = p.originalId >> 8; reply[1] = p.originalId & 0xff;
      p.resolve(reply);
    }
  }

  /** Give up on everything pending and close the sockets. */
  close(): void {
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.resolve(undefined); }
    this.pending.clear();
    for (const s of this.tcpSockets) s.destroy();
    close(this.fd);
  }

  private askUdp(query: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.pending.size >= 0xffff) return Promise.resolve(undefined);
    let id: number;
    do id = randomInt(0x10000); while (this.pending.has(id));
    const msg = Uint8Array.from(query);
    const originalId = (msg[0] << 8) | msg[1];
    msg[0] = id >> 8; msg[1] = id & 0xff;
    this.stats.udp++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pending.delete(id); resolve(undefined); }, UPSTREAM_TIMEOUT_MS);
      this.pending.set(id, { originalId, resolve, timer });
      if (sendtoAt(this.fd, bufferAddress(msg), msg.length, MSG_DONTWAIT, bufferAddress(this.to), SOCKADDR_IN_LEN) < 0) {
        clearTimeout(timer); this.pending.delete(id); resolve(undefined);
      }
    });
  }

  /** One query over a fresh TCP connection (RFC 1035 4.2.2: a two-byte length, then the message). */
  private askTcp(query: Uint8Array): Promise<Uint8Array | undefined> {
    this.stats.tcp++;
    return new Promise((resolve) => {
      let sock: Socket;
      try {
        sock = new Socket({ fd: tcpConnectInNetns(this.netns, this.upstream.ip, this.upstream.port), readable: true, writable: true });
      } catch {
        this.stats.failures++;
        resolve(undefined);
        return;
      }
      this.tcpSockets.add(sock);
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (reply: Uint8Array | undefined) => {
        if (done) return;
        done = true;
        if (!reply) this.stats.failures++;
        this.tcpSockets.delete(sock);
        sock.destroy();
        resolve(reply);
      };
      sock.setTimeout(UPSTREAM_TIMEOUT_MS, () => finish(undefined));
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(Uint8Array.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
  }
}
