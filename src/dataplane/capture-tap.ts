// The forwarding worker's capture tap (`podwire capture`). While a capture is
// on, the worker copies what passes the tapped ports — frames read from a
// port before processing (which rewrites them in place: NAT, encap), frames
// queued to a port (written, or handed to a peer node by the in-process
// fabric, which the peer then receives on its underlay) — into one staging
// buffer per round and posts it to the main thread in one message.
//
// Bounded both ways: at most ROUND_BYTES per round, and at most
// BACKLOG_BYTES posted but not yet handled by the main thread (a shared
// counter it decrements), so a fast flow cannot grow memory; what does not
// fit is counted per port as dropped by the capture.
//
// Record layout in a 'captured' message, back to back, little-endian:
//   u32 frame length, u16 node, u16 port, u8 direction (EPB_INBOUND: read
//   from the port / EPB_OUTBOUND: sent to it), 3 bytes zero, f64 timestamp
//   (ms since the epoch), then the frame (Ethernet; virtio-net header stripped).
import type { Dataplane } from './dataplane.ts';
import { TX_WORDS, TX_PORT, TX_START, TX_LENGTH } from './memory-views.ts';
import type { CapturePort, EngineReply } from './engine-protocol.ts';

export const CAPTURE_RECORD_HEADER = 20;
export const CAPTURE_INBOUND = 1;
export const CAPTURE_OUTBOUND = 2;
/** Staging bytes per worker round (16 super-frames of 64 KiB each way fit). */
const ROUND_BYTES = 4 << 20;
/** Bytes posted and not yet handled by the main thread before the tap starts dropping. */
export const BACKLOG_BYTES = 64 << 20;

/** What the tap needs to know about one of the worker's nodes. */
export interface TapNode {
  name: string;
  dp: Dataplane;
  /** pods' ports, by number, named after the pod */
  ports: { port: number; name: string }[];
  /** the underlay port, -1 without one */
  ulPort: number;
  /** frames sent on the underlay are handed to a peer node in this process (the fabric) */
  inProcessUnderlay: boolean;
}

export class CaptureTap {
  /** the one check the loop makes per round and per flush: any capture on */
  on = false;
  private readonly taps = new Map<number, CapturePort[]>();
  /** per node: how many captures tap each port */
  private readonly tapped: Uint16Array[];
  /** per node: frames a full staging buffer or backlog turned away this round */
  private readonly dropped: Uint32Array[];
  private droppedAny = false;
  /** per node: tx entries below this index were copied already (a nested flush must not copy them again) */
  private readonly txSeen: number[];
  private staging = new Uint8Array(0);
  private view = new DataView(this.staging.buffer);
  private used = 0;
  private budget = 0;
  private readonly backlog: Int32Array;

  constructor(
    private readonly mem8: Uint8Array,
    private readonly nodes: TapNode[],
    backlog: SharedArrayBuffer | undefined,
    /** index of the node owning an underlay frame's destination MAC (the fabric's lookup) */
    private readonly peerOf: (start: number) => number | undefined,
    private readonly post: (m: EngineReply, transfer: ArrayBuffer[]) => void,
  ) {
    this.backlog = new Int32Array(backlog ?? new SharedArrayBuffer(4));
    this.tapped = nodes.map((n) => new Uint16Array(n.dp.maxPorts));
    this.dropped = nodes.map((n) => new Uint32Array(n.dp.maxPorts));
    this.txSeen = nodes.map(() => 0);
  }

  /** Turn capture `id` on (answering with its ports, or why not) or off (no answer). */
  request(req: { id: number; on: true; target: string } | { id: number; on: false }): EngineReply | undefined {
    if (!req.on) {
      for (const p of this.taps.get(req.id) ?? []) this.tapped[p.node][p.port]--;
      this.taps.delete(req.id);
      if (this.taps.size === 0 && this.on) {
        this.endRound(); // post what is staged (and the drops) before letting go of the buffer
        this.on = false;
        this.staging = new Uint8Array(0);
        this.view = new DataView(this.staging.buffer);
      }
      return undefined;
    }
    let ports: CapturePort[];
    try {
      ports = this.resolve(req.target);
    } catch (e) {
      return { type: 'capture', id: req.id, error: (e as Error).message };
    }
    for (const p of ports) this.tapped[p.node][p.port]++;
    this.taps.set(req.id, ports);
    if (!this.on) {
      this.on = true;
      this.staging = new Uint8Array(ROUND_BYTES);
      this.view = new DataView(this.staging.buffer);
      this.used = 0;
      this.budget = this.roundBudget();
    }
    return { type: 'capture', id: req.id, ports };
  }

  /**
   * What a target names: "underlay" (every node's underlay port), a node
   * (every port it has), or a pod (its port); "node/NAME" and "pod/NAME"
   * say which when a node and a pod share a name.
   */
  resolve(target: string): CapturePort[] {
    const underlay = (ni: number): CapturePort[] => {
      const n = this.nodes[ni];
      return n.ulPort < 0 ? [] : [{ node: ni, port: n.ulPort, name: `${n.name}/underlay` }];
    };
    const nodePorts = (ni: number): CapturePort[] => [
      ...this.nodes[ni].ports.map((p) => ({ node: ni, port: p.port, name: `${this.nodes[ni].name}/${p.name}` })),
      ...underlay(ni),
    ];
    const podPorts = (pod: string): CapturePort[] => this.nodes.flatMap((n, ni) =>
      n.ports.filter((p) => p.name === pod).map((p) => ({ node: ni, port: p.port, name: `${n.name}/${p.name}` })));
    const [kind, name] = /^(node|pod)\//.test(target) ? [target.slice(0, target.indexOf('/')), target.slice(target.indexOf('/') + 1)] : ['', target];
    if (kind === '' && target === 'underlay') {
      const ports = this.nodes.flatMap((_, ni) => underlay(ni));
      if (ports.length === 0) throw new Error('this lab has no underlay (a single node)');
      return ports;
    }
    const ni = kind === 'pod' ? -1 : this.nodes.findIndex((n) => n.name === name);
    const pod = kind === 'node' ? [] : podPorts(name);
    if (ni >= 0 && pod.length) throw new Error(`"${name}" is both a node and a pod: say node/${name} or pod/${name}`);
    if (ni >= 0) return nodePorts(ni);
    if (pod.length) return pod;
    const pods = this.nodes.flatMap((n) => n.ports.map((p) => p.name));
    throw new Error(`no ${kind || 'pod or node'} "${name}" on this lab's podwire nodes (nodes: ${this.nodes.map((n) => n.name).join(', ')}; pods: ${pods.join(', ')}; or "underlay")`);
  }

  /** Copy the tapped frames among rx slots [0, used) of node `ni`, before they are processed. */
  rx(ni: number, used: number): void {
    const dp = this.nodes[ni].dp;
    const tapped = this.tapped[ni];
    const ts = performance.timeOrigin + performance.now();
    for (let s = 0; s < used; s++) {
      const port = dp.rxPort[s];
      if (tapped[port]) this.copy(ni, port, CAPTURE_INBOUND, dp.rxAddr[s], dp.rxLen[s], ts);
    }
  }

  /**
   * Copy node `ni`'s tapped tx entries from `drained` to `total`, before
   * they are written or handed over (the peer processes a handed-over frame
   * in place). An in-process underlay frame is also what its peer receives
   * on its underlay.
   */
  tx(ni: number, drained: number, total: number): void {
    // drained is 0 only on a fresh list: nothing of it was copied yet
    const from = drained === 0 ? 0 : Math.max(drained, this.txSeen[ni]);
    this.txSeen[ni] = total;
    if (from >= total) return;
    const n = this.nodes[ni];
    const tx = n.dp.tx;
    const tapped = this.tapped[ni];
    const ts = performance.timeOrigin + performance.now();
    const W = TX_WORDS, PORT = TX_PORT, START = TX_START, LENGTH = TX_LENGTH;
    for (let e = from; e < total; e++) {
      const b = e * W;
      const port = tx[b + PORT];
      const start = tx[b + START];
      const length = tx[b + LENGTH];
      if (tapped[port]) this.copy(ni, port, CAPTURE_OUTBOUND, start, length, ts);
      if (port === n.ulPort && n.inProcessUnderlay) {
        const peer = this.peerOf(start);
        if (peer !== undefined && this.tapped[peer][this.nodes[peer].ulPort]) this.copy(peer, this.nodes[peer].ulPort, CAPTURE_INBOUND, start, length, ts);
      }
    }
  }

  /** Post this round's copies (one message) and start the next round's budget. */
  endRound(): void {
    if (this.used > 0 || this.droppedAny) {
      const data = this.staging.slice(0, this.used).buffer;
      const drops: number[] = [];
      if (this.droppedAny) {
        this.dropped.forEach((d, ni) => d.forEach((c, port) => { if (c) drops.push(ni, port, c); }));
        for (const d of this.dropped) d.fill(0);
        this.droppedAny = false;
      }
      Atomics.add(this.backlog, 0, data.byteLength);
      this.used = 0;
      this.post({ type: 'captured', data, drops }, [data]);
    }
    this.budget = this.roundBudget();
  }

  private roundBudget(): number {
    return Math.max(0, Math.min(this.staging.length, BACKLOG_BYTES - Atomics.load(this.backlog, 0)));
  }

  /** Stage one frame (vnet header at `start`, `length` bytes with it), or count it dropped. */
  private copy(ni: number, port: number, dir: number, start: number, length: number, ts: number): void {
    const vnet = this.nodes[ni].dp.vnetLen;
    const frameLen = length - vnet;
    if (frameLen <= 0) return;
    if (this.used + CAPTURE_RECORD_HEADER + frameLen > this.budget) {
      this.dropped[ni][port]++;
      this.droppedAny = true;
      return;
    }
    const v = this.view;
    const at = this.used;
    v.setUint32(at, frameLen, true);
    v.setUint16(at + 4, ni, true);
    v.setUint16(at + 6, port, true);
    v.setUint32(at + 8, dir, true);
    v.setFloat64(at + 12, ts, true);
    this.staging.set(this.mem8.subarray(start + vnet, start + length), at + CAPTURE_RECORD_HEADER);
    this.used = at + CAPTURE_RECORD_HEADER + frameLen;
  }
}

/** Walk the records of a 'captured' message. */
export function forEachCaptured(data: ArrayBuffer, fn: (node: number, port: number, dir: number, tsMs: number, frame: Uint8Array) => void): void {
  const v = new DataView(data);
  const bytes = new Uint8Array(data);
  for (let at = 0; at + CAPTURE_RECORD_HEADER <= data.byteLength;) {
    const len = v.getUint32(at, true);
    const start = at + CAPTURE_RECORD_HEADER;
    fn(v.getUint16(at + 4, true), v.getUint16(at + 6, true), v.getUint8(at + 8), v.getFloat64(at + 12, true), bytes.subarray(start, start + len));
    at = start + len;
  }
}
