// The forwarding loop's frame work, one round at a time: wait on the epoll
// set (every port's fd, plus the eventfd the main thread wakes the worker
// with, token 0), read batches from the READY fds only straight into the
// nodes' frame slots, make one processBatch call per node, then write each tx
// entry with one write(2) — or hand an underlay frame to its peer node
// (engine-fabric.ts) or a host socket. A round costs what is ready, not how
// many pods the lab has. Nothing here allocates per frame.
import { Epoll } from '../io/epoll.ts';
import { SpinPolicy } from './spin-policy.ts';
import { EAGAIN, EBADF, readAt, sysError, writeAt, writev2At } from '../io/libc.ts';
import { Virtio } from './layout.ts';
import { TX_WORDS, TX_PORT, TX_START, TX_LENGTH } from './memory-views.ts';
import type { CaptureTap } from './capture-tap.ts';
import type { Fabric } from './engine-fabric.ts';
import type { EngineNode, EnginePort } from './engine-nodes.ts';
import type { Impairments } from './impairment.ts';
import type { LoopStats } from './engine-protocol.ts';

/** Frames read from one port per round, so one busy pod cannot starve the others. */
export const PORT_BUDGET = 64;
const IDLE_POLL_MS = 1000;
/**
 * After a round that moved frames, keep looking (epoll_wait, timeout 0) this
 * long before blocking again: a blocked worker pays a wake-up on the next
 * frame, a reply that comes back within the window is picked up without one.
 * An idle lab never spins. Measured (bench/spin-ab.ts, same-node pods, a
 * loaded 2-core VM): TCP request/response p50 ~100 µs with 0 or 0.2 ms,
 * ~76 µs with 1 ms, ~70 µs with 3 ms; ping 2 ms apart no better with any;
 * the worker's CPU during that 500/s ping 6 %, 15 %, 43 %, 80 % of a core.
 * 1 ms takes most of the request/response gain for half the CPU of 3 ms.
 * Only while no other thread waits for a CPU (spin-policy.ts).
 */
export const SPIN_AFTER_TRAFFIC_MS = 1;
/** the epoll token of the wake eventfd; ports get 1, 2, ... (never reused) */
const WAKE_TOKEN = 0;

// a tx entry's words, as locals of this module (read once, not per frame)
const W = TX_WORDS, PORT = TX_PORT, START = TX_START, LENGTH = TX_LENGTH;
const VNET_HLEN = Virtio.VNET_HLEN, TNL_HLEN = Virtio.VNET_TNL_HLEN;

export class IoLoop {
  /** a port had more to read than its budget: poll again without sleeping */
  private busy = false;
  /** performance.now() of the last round that read a frame */
  private lastFrameAt = -Infinity;
  private readonly epoll = new Epoll();
  private readonly spin = new SpinPolicy();
  /** the port behind each epoll token; tokens are never reused, so an event from before a change cannot reach a new port */
  private readonly byToken = new Map<number, EnginePort>();
  /** the token each watched port was added with */
  private readonly tokenOf = new Map<EnginePort, number>();
  private nextToken = WAKE_TOKEN + 1;
  /** a port could not be watched (its fd is not open): report it broken in the next round */
  private brokenPending = false;
  /** the port by fd, for counting a failed write against it */
  private readonly byFd = new Map<number, EnginePort>();
  /** the ports that are host sockets: one may hold datagrams of a coalesced read with nothing new to make it ready */
  private sockPorts: EnginePort[] = [];
  /** what the loop did (stats): rounds, ready fds examined, fds watched, rounds that could sleep */
  readonly stats: LoopStats = { rounds: 0, readyFds: 0, watchedFds: 0, sleeps: 0, spinChecks: 0, spinYielded: 0 };

  constructor(
    private readonly nodes: EngineNode[],
    private readonly ports: EnginePort[],
    wakeFd: number,
    private readonly fabric: Fabric,
    private readonly tap: CaptureTap,
    private readonly impair: Impairments,
    /** the shared memory as bytes: impaired frames are copied out of it */
    private readonly mem8: Uint8Array,
  ) {
    const r = this.epoll.add(wakeFd, WAKE_TOKEN);
    if (r < 0) throw sysError('epoll_ctl(ADD)', `wake eventfd ${wakeFd}`, r);
    this.portsChanged();
    fabric.flush = this.flush;
  }

  /** Wait until a port or the wake fd is ready (not at all while busy or just after traffic). Returns whether the main thread woke us. */
  wait(): boolean {
    const { epoll, impair, stats } = this;
    let timeout = IDLE_POLL_MS;
    const now = performance.now();
    if (this.busy || (now - this.lastFrameAt < SPIN_AFTER_TRAFFIC_MS && this.spin.allowed(now))) timeout = 0;
    // impaired frames held for later: sleep no longer than until the first is due
    else if (impair.any) timeout = Math.max(0, Math.min(IDLE_POLL_MS, Math.ceil(impair.untilNext(performance.now()))));
    if (timeout > 0) stats.sleeps++;
    stats.spinChecks = this.spin.samples;
    stats.spinYielded = this.spin.crowded;
    const ready = epoll.wait(timeout);
    stats.rounds++;
    stats.readyFds += ready;
    if (impair.any) impair.release(performance.now());
    let woken = false;
    for (let i = 0; i < ready; i++) if (epoll.token(i) === WAKE_TOKEN) woken = true;
    return woken;
  }

  /** rx: drain the ready ports into their node's slots. Returns whether a port went away (see dropBrokenPorts). */
  receive(): boolean {
    const { epoll, nodes, byToken } = this;
    this.busy = false;
    let brokenSeen = this.brokenPending;
    this.brokenPending = false;
    let frames = 0;
    // datagrams held from a coalesced read are handed out even when their socket is not ready
    for (const p of this.sockPorts) {
      if (!p.sock!.holding || p.broken) continue;
      const before = nodes[p.node].used;
      if (this.receiveSocket(p)) brokenSeen = true;
      frames += nodes[p.node].used - before;
    }
    const ready = epoll.readyCount;
    for (let i = 0; i < ready; i++) {
      const token = epoll.token(i);
      if (token === WAKE_TOKEN) continue;
      // undefined: the port was detached by a request handled after the wait
      const p = byToken.get(token);
      if (p === undefined || p.broken) continue;
      const n = nodes[p.node];
      const dp = n.dp;
      const before = n.used;
      const limit = Math.min(dp.slots, n.used + PORT_BUDGET);
      if (p.sock) {
        // EPOLLERR here is a pending socket error, which the next recvfrom reports and clears
        if (this.receiveSocket(p)) brokenSeen = true;
        frames += n.used - before;
        continue;
      }
      if (epoll.isBroken(i)) { p.broken = true; brokenSeen = true; continue; }
      if (!epoll.isReadable(i)) continue;
      const cap = dp.readCapacity;
      // the underlay TAP's longer header (UDP-tunnel GSO) ends where the frame starts, as the usual one does
      const extra = p.port === n.ulPort ? n.ulHdrExtra : 0;
      while (n.used < limit) {
        // a read that fills the whole slot was cut short; processBatch counts it as oversize
        const r = readAt(p.fd, n.readAddr[n.used] - extra, cap + extra);
        if (r <= 0) {
          if (r !== -EAGAIN) p.rxErrors++;
          break;
        }
        dp.rxLen[n.used] = r - extra;
        dp.rxPort[n.used] = p.port;
        n.used++;
      }
      if (n.used === limit) this.busy = true; // more may be waiting: poll without sleeping
      frames += n.used - before;
    }
    if (frames > 0) this.lastFrameAt = performance.now();
    return brokenSeen;
  }

  /** One call into WASM per node that received frames, then write (or hand over) what it queued. */
  process(): void {
    const { nodes, tap } = this;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (n.used === 0) continue;
      if (tap.on) tap.rx(i, n.used); // before processing rewrites them in place
      n.txTotal = n.dp.processRange(0, n.used);
      n.used = 0;
      this.flush(n, 0);
    }
  }

  /** Empty the tx lists once everything queued this round is written. */
  clearTx(): void {
    for (const n of this.nodes) {
      if (n.txTotal === 0) continue;
      n.dp.txClear();
      n.txTotal = 0;
      n.drained = 0;
    }
  }

  /** Stop watching every fd (the worker is ending). */
  close(): void {
    this.epoll.close();
    this.spin.close();
  }

  /** Stop polling the ports found broken (a TAP whose device vanished with its namespace); returns every broken port's name. */
  dropBrokenPorts(): string[] {
    this.portsChanged();
    return this.ports.filter((p) => p.broken).map((p) => p.name);
  }

  /** Hold an underlay frame from node `from` when the link to its peer is impaired; false when it is not (hand it over now). */
  private impairLink(from: number, start: number, length: number, vnetLen: number): boolean {
    const to = this.fabric.ownerOf(start);
    const imp = to === undefined ? undefined : this.impair.link(from, to);
    if (!imp) return false;
    imp.take(this.mem8.subarray(start, start + length), vnetLen, performance.now());
    return true;
  }

  /** Read socket port p's datagrams (bounded) into its node's slots; true when the socket was closed under us. */
  private receiveSocket(p: EnginePort): boolean {
    const n = this.nodes[p.node];
    const dp = n.dp;
    const sock = p.sock!;
    const limit = Math.min(dp.slots, n.used + PORT_BUDGET);
    let broken = false;
    // bounded: datagrams dropped on arrival (unknown sender, too big) take no slot
    for (let k = 0; k < PORT_BUDGET && n.used < limit; k++) {
      const r = sock.recv(n.used);
      if (r < 0) {
        if (r === -EBADF) { p.broken = true; broken = true; } // closed under us: stop polling it
        break;
      }
      if (r === 0) continue;
      dp.rxLen[n.used] = r;
      dp.rxPort[n.used] = p.port;
      n.used++;
    }
    if (n.used === limit || sock.holding) this.busy = true;
    return broken;
  }

  /**
   * The port list changed (a pod attached or detached live, a port found
   * broken): watch every port not broken, and only those. Runs on a change,
   * never per round.
   */
  portsChanged(): void {
    const { ports, epoll, byToken, tokenOf, byFd } = this;
    const want = new Set(ports.filter((p) => !p.broken));
    for (const [p, token] of tokenOf) {
      if (want.has(p)) continue;
      // ENOENT/EBADF: the fd was closed already, and the kernel dropped it with its file
      epoll.remove(p.fd);
      tokenOf.delete(p);
      byToken.delete(token);
    }
    for (const p of want) {
      if (tokenOf.has(p)) continue;
      const token = this.nextToken++;
      if (epoll.add(p.fd, token) < 0) {
        p.broken = true; // as poll(2) said POLLNVAL: the next round reports it gone
        this.brokenPending = true;
        continue;
      }
      tokenOf.set(p, token);
      byToken.set(token, p);
    }
    byFd.clear();
    for (const p of ports) byFd.set(p.fd, p);
    this.sockPorts = ports.filter((p) => p.sock !== undefined);
    this.stats.watchedFds = tokenOf.size;
  }

  /** Write node n's queued tx entries; underlay frames for in-process peers are handed over instead. */
  readonly flush = (n: EngineNode, depth: number): void => {
    if (this.tap.on) this.tap.tx(this.nodes.indexOf(n), n.drained, n.txTotal);
    const tx = n.dp.tx;
    // impaired ports of this node (impairment.ts), looked up once per flush
    const impaired = this.impair.any ? this.impair.ports(this.nodes.indexOf(n)) : undefined;
    const now = impaired ? performance.now() : 0;
    // impaired node-to-node links (in-process underlay): this node's index, or -1 when none is
    const linkFrom = this.impair.anyLink ? this.nodes.indexOf(n) : -1;
    while (n.drained < n.txTotal) {
      const b = n.drained * W;
      n.drained++;
      const outPort = tx[b + PORT];
      const start = tx[b + START];
      const length = tx[b + LENGTH];
      if (outPort === n.ulPort && n.ulFd < 0) {
        if (n.sock) n.sock.send(start, length); // gathered; sent by flush() below
        else if (linkFrom >= 0 && this.impairLink(linkFrom, start, length, n.dp.vnetLen)) continue;
        else this.fabric.handOver(start, length, depth);
        continue;
      }
      const fd = n.fds[outPort];
      if (fd < 0) continue;
      const imp = impaired?.[outPort];
      if (imp) {
        imp.take(this.mem8.subarray(start, start + length), n.dp.vnetLen, now);
        continue;
      }
      if (n.toPods && outPort !== n.ulPort) { n.toPods.add(fd, start, length); continue; }
      // the underlay TAP's 24-byte header sits before the 10-byte one (assembly/stages/tunnel_gso.ts)
      const w = outPort === n.ulPort && n.ulHdrExtra > 0
        ? writev2At(fd, n.memBase + start - TNL_HLEN, TNL_HLEN, n.memBase + start + VNET_HLEN, length - VNET_HLEN)
        : writeAt(fd, n.memBase + start, length);
      if (w < 0) {
        const p = this.byFd.get(fd);
        if (p) p.txErrors++;
      }
    }
    n.toPods?.flush();
    n.sock?.flush();
  };
}
