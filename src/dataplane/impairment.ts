// Link impairment in the forwarding worker (`netem:` on a pod or a link,
// `podwire netem set`): frames the data plane sends to an impaired pod's TAP,
// or hands from one node to another over the in-process underlay, are
// dropped, duplicated, corrupted, paced to a rate and held for a delay
// before they are sent on, as tc-netem(8) does on a qdisc. The host kernel
// here has no netem qdisc (CONFIG_NET_SCH_NETEM unset), so it is done in
// userspace, on the worker's clock.
//
// Cost when nothing is impaired: one boolean check per flush (any). An
// impaired frame is copied out of the WASM slot (the slot is reused next
// round) and written when due; the loop's poll sleeps no longer than the next
// due time. Frames leave in the order they came (no reordering by jitter,
// unlike netem without a rate), and a super-frame (GSO) counts as one frame,
// as a GSO skb does in netem.
import { write } from '../io/libc.ts';
import type { NetemSpec } from '../model/netem.ts';

/** Frames held per port before new ones are dropped (tc netem's default `limit 1000`). */
export const IMPAIRMENT_QUEUE_LIMIT = 1000;

/** What an impairment did so far (`podwire status`). */
export interface ImpairmentStats {
  /** frames that came to the impaired port */
  frames: number;
  /** dropped by `loss` */
  lost: number;
  duplicated: number;
  corrupted: number;
  /** dropped because IMPAIRMENT_QUEUE_LIMIT frames were already held */
  overLimit: number;
  /** sent on (written to the TAP, handed to the peer node); failed writes are counted in writeErrors */
  sent: number;
  writeErrors: number;
  /** held now */
  queued: number;
}

interface Held { due: number; frame: Buffer }

/** Sends a held frame on when due (a write to the pod's TAP, a hand-over to the peer node); false when it failed. */
export type FrameSink = (frame: Buffer) => boolean;

/** The sink of a pod's port: one write(2) to its TAP. */
export function tapSink(fd: number): FrameSink {
  return (frame) => write(fd, frame) >= 0;
}

export class PortImpairment {
  readonly stats: ImpairmentStats = { frames: 0, lost: 0, duplicated: 0, corrupted: 0, overLimit: 0, sent: 0, writeErrors: 0, queued: 0 };
  /** FIFO of held frames: queue[head..] */
  private queue: Held[] = [];
  private head = 0;
  /** when the link is free to start sending the next frame (rate), and the last due time (keeps order) */
  private linkFree = 0;
  private lastDue = 0;

  constructor(private readonly send: FrameSink, readonly spec: NetemSpec, private readonly random: () => number) {}

  /** Take a frame (vnet header + Ethernet, `vnetLen` header bytes) at `now` (ms). */
  take(bytes: Uint8Array, vnetLen: number, now: number): void {
    const s = this.spec, st = this.stats;
    st.frames++;
    if (s.lossPercent && this.random() * 100 < s.lossPercent) { st.lost++; return; }
    const copies = s.duplicatePercent && this.random() * 100 < s.duplicatePercent ? 2 : 1;
    if (copies === 2) st.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (this.queue.length - this.head >= IMPAIRMENT_QUEUE_LIMIT) { st.overLimit++; continue; }
      // a copy in its own buffer (offset 0, as write() takes it): the slot is reused next round
      const frame = Buffer.allocUnsafeSlow(bytes.length);
      frame.set(bytes);
      if (s.corruptPercent && frame.length > vnetLen && this.random() * 100 < s.corruptPercent) {
        const at = vnetLen + Math.floor(this.random() * (frame.length - vnetLen));
        frame[at] ^= 1 << Math.floor(this.random() * 8);
        st.corrupted++;
      }
      this.queue.push({ due: this.dueTime(frame.length - vnetLen, now), frame });
    }
    st.queued = this.queue.length - this.head;
  }

  /** The frame's serialisation at the rate (after the previous one), then the delay ± jitter; never before the previous frame. */
  private dueTime(length: number, now: number): number {
    const s = this.spec;
    let t = now;
    if (s.rateBitsPerSecond) {
      const start = Math.max(now, this.linkFree);
      this.linkFree = start + (length * 8 * 1000) / s.rateBitsPerSecond;
      t = this.linkFree;
    }
    if (s.delayMs) t += s.delayMs + (s.jitterMs ? (this.random() * 2 - 1) * s.jitterMs : 0);
    t = Math.max(t, this.lastDue);
    this.lastDue = t;
    return t;
  }

  /** Write every frame due by `now`. */
  release(now: number): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head].due <= now) {
      const { frame } = q[this.head++];
      if (this.send(frame)) this.stats.sent++;
      else this.stats.writeErrors++;
    }
    if (this.head === q.length) { q.length = 0; this.head = 0; }
    else if (this.head > 1024) { q.splice(0, this.head); this.head = 0; }
    this.stats.queued = q.length - this.head;
  }

  /** When the first held frame is due (Infinity when none is held). */
  get nextDue(): number {
    return this.head < this.queue.length ? this.queue[this.head].due : Infinity;
  }
}

/** Every impaired port of the worker's nodes, by node index and port number, and every impaired node-to-node direction. */
export class Impairments {
  /** false while no port is impaired: the loop's only cost then */
  any = false;
  /** false while no link is impaired */
  anyLink = false;
  private readonly byNode: (PortImpairment | undefined)[][];
  /** [from node][to node] */
  private readonly links: (PortImpairment | undefined)[][];

  constructor(nodeCount: number, private readonly random: () => number = Math.random) {
    this.byNode = Array.from({ length: nodeCount }, () => []);
    this.links = Array.from({ length: nodeCount }, () => []);
  }

  /** Impair (node, port), whose frames `send` sends on, with `spec`; undefined clears it (held frames are sent at once). */
  set(node: number, port: number, send: FrameSink, spec: NetemSpec | undefined): void {
    this.byNode[node][port]?.release(Infinity);
    this.byNode[node][port] = spec ? new PortImpairment(send, spec, this.random) : undefined;
    this.updateFlags();
  }

  /** Impair the frames node `from` hands to node `to` (sent on by `send`), or stop (undefined). */
  setLink(from: number, to: number, send: FrameSink, spec: NetemSpec | undefined): void {
    this.links[from][to]?.release(Infinity);
    this.links[from][to] = spec ? new PortImpairment(send, spec, this.random) : undefined;
    this.updateFlags();
  }

  private updateFlags(): void {
    this.anyLink = this.links.some((to) => to.some((p) => p !== undefined));
    this.any = this.anyLink || this.byNode.some((ports) => ports.some((p) => p !== undefined));
  }

  /** The impairment of frames node `from` hands to node `to`, if any. */
  link(from: number, to: number): PortImpairment | undefined {
    return this.links[from][to];
  }

  /** Node `node`'s ports, indexed by port number (undefined entries are not impaired). */
  ports(node: number): (PortImpairment | undefined)[] {
    return this.byNode[node];
  }

  /** Write whatever is due on every impaired port. */
  release(now: number): void {
    for (const ports of this.byNode) for (const p of ports) p?.release(now);
    if (this.anyLink) for (const to of this.links) for (const p of to) p?.release(now);
  }

  /** ms until the next held frame is due (Infinity when none is held). */
  untilNext(now: number): number {
    let due = Infinity;
    for (const ports of this.byNode) for (const p of ports) if (p) due = Math.min(due, p.nextDue);
    for (const to of this.links) for (const p of to) if (p) due = Math.min(due, p.nextDue);
    return due - now;
  }

  /** Per node: each impaired port, its spec and what it did. */
  stats(node: number): { port: number; spec: NetemSpec; stats: ImpairmentStats }[] {
    return this.byNode[node].flatMap((p, port) => (p ? [{ port, spec: p.spec, stats: { ...p.stats } }] : []));
  }

  /** Per node: each node it hands impaired frames to (by index), the spec and what it did. */
  linkStats(node: number): { to: number; spec: NetemSpec; stats: ImpairmentStats }[] {
    return this.links[node].flatMap((p, to) => (p ? [{ to, spec: p.spec, stats: { ...p.stats } }] : []));
  }
}
