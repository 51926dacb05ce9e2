// The forwarding loop's frame work, one round at a time: poll every port's
// fd (plus the eventfd the main thread wakes the worker with, poll slot 0),
// read batches straight into the nodes' frame slots, make one processBatch
// call per node, then write each tx entry with one write(2) — or hand an
// underlay frame to its peer node (engine-fabric.ts) or a host socket.
// Nothing here allocates per frame.
import { Poller } from '../io/poller.ts';
import { EAGAIN, EBADF, readAt, writeAt, writev2At } from '../io/libc.ts';
import { Virtio } from './layout.ts';
import { TX_WORDS, TX_PORT, TX_START, TX_LENGTH } from './memory-views.ts';
import type { CaptureTap } from './capture-tap.ts';
import type { Fabric } from './engine-fabric.ts';
import type { EngineNode, EnginePort } from './engine-nodes.ts';
import type { Impairments } from './impairment.ts';

/** Frames read from one port per round, so one busy pod cannot starve the others. */
const PORT_BUDGET = 64;
const IDLE_POLL_MS = 1000;

// a tx entry's words, as locals of this module (read once, not per frame)
const W = TX_WORDS, PORT = TX_PORT, START = TX_START, LENGTH = TX_LENGTH;
const VNET_HLEN = Virtio.VNET_HLEN, TNL_HLEN = Virtio.VNET_TNL_HLEN;

export class IoLoop {
  /** a port had more to read than its budget: poll again without sleeping */
  private busy = false;
  private readonly poller: Poller;
  /** poll slot i + 1 -> ports[pollIndex[i]] */
  private readonly pollIndex: number[];

  constructor(
    private readonly nodes: EngineNode[],
    private readonly ports: EnginePort[],
    private readonly wakeFd: number,
    private readonly fabric: Fabric,
    private readonly tap: CaptureTap,
    private readonly impair: Impairments,
    /** the shared memory as bytes: impaired frames are copied out of it */
    private readonly mem8: Uint8Array,
  ) {
    this.poller = new Poller([wakeFd, ...ports.map((p) => p.fd)]);
    this.pollIndex = ports.map((_, i) => i);
    fabric.flush = this.flush;
  }

  /** Wait until a port or the wake fd is ready (not at all while busy). Returns whether the main thread woke us. */
  wait(): boolean {
    const impair = this.impair;
    // impaired frames held for later: sleep no longer than until the first is due
    const timeout = this.busy ? 0 : impair.any ? Math.max(0, Math.min(IDLE_POLL_MS, Math.ceil(impair.untilNext(performance.now())))) : IDLE_POLL_MS;
    this.poller.wait(timeout);
    if (impair.any) impair.release(performance.now());
    return this.poller.isReadable(0);
  }

  /** rx: drain readable ports into their node's slots. Returns whether a port went away (see dropBrokenPorts). */
  receive(): boolean {
    const { poller, ports, nodes, pollIndex } = this;
    this.busy = false;
    let brokenSeen = false;
    for (let i = 0; i < pollIndex.length; i++) {
      const p = ports[pollIndex[i]];
      const n = nodes[p.node];
      const dp = n.dp;
      const limit = Math.min(dp.slots, n.used + PORT_BUDGET);
      if (p.sock) {
        // POLLERR here is a pending socket error, which the next recvfrom reports and clears
        // datagrams held from a coalesced read are handed out even when the socket has nothing new
        if (!poller.isReadable(i + 1) && !poller.isBroken(i + 1) && !p.sock.holding) continue;
        // bounded: datagrams dropped on arrival (unknown sender, too big) take no slot
        for (let k = 0; k < PORT_BUDGET && n.used < limit; k++) {
          const r = p.sock.recv(n.used);
          if (r < 0) {
            if (r === -EBADF) { p.broken = true; brokenSeen = true; } // closed under us: stop polling it
            break;
          }
          if (r === 0) continue;
          dp.rxLen[n.used] = r;
          dp.rxPort[n.used] = p.port;
          n.used++;
        }
        if (n.used === limit || p.sock.holding) this.busy = true;
        continue;
      }
      if (poller.isBroken(i + 1)) { p.broken = true; brokenSeen = true; continue; }
      if (!poller.isReadable(i + 1)) continue;
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
    }
    return brokenSeen;
  }

  /** One call into WASM per node that received frames, then write (or hand over) what it queued. */
  process(): void {
    const { nodes, tap } = this;
    for (const n of nodes) {
      if (n.used === 0) continue;
      if (tap.on) tap.rx(nodes.indexOf(n), n.used); // before processing rewrites them in place
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

  /** Stop polling the ports found broken (a TAP whose device vanished with its namespace); returns every broken port's name. */
  dropBrokenPorts(): string[] {
    const { ports, pollIndex } = this;
    const alive = pollIndex.filter((pi) => !ports[pi].broken);
    pollIndex.length = 0;
    pollIndex.push(...alive);
    this.poller.setFds([this.wakeFd, ...alive.map((pi) => ports[pi].fd)]);
    return ports.filter((p) => p.broken).map((p) => p.name);
  }

  /** Hold an underlay frame from node `from` when the link to its peer is impaired; false when it is not (hand it over now). */
  private impairLink(from: number, start: number, length: number, vnetLen: number): boolean {
    const to = this.fabric.ownerOf(start);
    const imp = to === undefined ? undefined : this.impair.link(from, to);
    if (!imp) return false;
    imp.take(this.mem8.subarray(start, start + length), vnetLen, performance.now());
    return true;
  }

  /** The port list changed (a pod attached or detached live): poll every port not found broken. */
  portsChanged(): void {
    const { ports, pollIndex } = this;
    pollIndex.length = 0;
    for (let i = 0; i < ports.length; i++) if (!ports[i].broken) pollIndex.push(i);
    this.poller.setFds([this.wakeFd, ...pollIndex.map((pi) => ports[pi].fd)]);
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
        const p = this.ports.find((q) => q.fd === fd);
        if (p) p.txErrors++;
      }
    }
    n.toPods?.flush();
    n.sock?.flush();
  };
}
