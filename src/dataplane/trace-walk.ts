// `podwire trace`: a synthetic packet injected at a pod's port and followed
// through the real tables, node by node, with every decision recorded. The
// run is dry (assembly/trace.ts): nothing is learned, no conntrack entry or
// counter survives it, and nothing is written to any TAP — what would have
// been sent is reported instead. Used by the forwarding worker (engine.ts)
// between rounds, when every node's slots and tx list are free.
import { GEN_SLOT, type Dataplane } from './dataplane.ts';
import { decodeTrace, type TraceNames, type TraceStep } from './trace.ts';

export interface TraceWalkNode {
  name: string;
  dp: Dataplane;
  /** the underlay port, -1 without one */
  ulPort: number;
  /** underlay frames go to another node in this process (the fabric), not a real device */
  fabric: boolean;
  /**
   * the underlay port is a TAP on a bridge: a frame to another traced node's
   * MAC reaches it through the bridge and is followed there; any other frame
   * leaves for a host the walk does not run (a kernel node, an external host)
   */
  bridged?: boolean;
  /** that TAP speaks UDP-tunnel GSO (24-byte header): a frame followed across it is relayed so (tunnel_gso.ts) */
  tunnelGso?: boolean;
  names: TraceNames;
}

export interface TraceHop {
  node: string;
  steps: TraceStep[];
  /** records the ring could not hold */
  lost: number;
}

export interface TraceResult {
  hops: TraceHop[];
  /** where copies of the packet ended: delivered out of a port, or dropped; `generated`: an answer the node built (ICMP error, reset, echo or ARP reply) */
  outcomes: { node: string; port?: string; dropped?: string; generated?: boolean }[];
}

/** How many underlay hand-overs one trace may follow (the fabric's own loop guard is 16). */
const MAX_HOPS = 16;

/**
 * Run `frame` (Ethernet, no vnet header) as if read from `port` of node
 * `start`; `ownerOf(start)` names the node owning an underlay frame's
 * destination MAC (vnet header at `start`), or undefined.
 */
export function traceWalk(nodes: TraceWalkNode[], start: number, port: number, frame: Uint8Array,
  ownerOf: (vnetAt: number) => number | undefined): TraceResult {
  const result: TraceResult = { hops: [], outcomes: [] };
  const queued = nodes.map(() => 0); // tx entries of each node already followed
  for (const n of nodes) {
    n.dp.txClear();
    n.dp.traceBegin(true);
  }
  try {
    /** Process rx entry `rx` of node `ni` (already filled in), then follow what it queued. */
    const run = (ni: number, rx: number, depth: number): void => {
      const n = nodes[ni];
      n.dp.ex.traceReset();
      const txTotal = n.dp.processRange(rx, 1);
      const { words, lost } = n.dp.traceRecords();
      const steps = decodeTrace(words, n.names);
      result.hops.push({ node: n.name, steps, lost });
      const verdict = steps.filter((s) => s.step === 'verdict').at(-1);
      if (verdict?.detail.dropped) result.outcomes.push({ node: n.name, dropped: String(verdict.detail.reason) });
      for (let k = queued[ni]; k < txTotal; k++) {
        queued[ni] = k + 1;
        const e = n.dp.txEntry(k);
        if (e.port !== n.ulPort || !(n.fabric || n.bridged)) {
          result.outcomes.push({ node: n.name, port: n.names.port(e.port), ...(e.slot === GEN_SLOT ? { generated: true } : {}) });
          continue;
        }
        const peer = ownerOf(e.start);
        if (peer === undefined && n.bridged) {
          result.outcomes.push({ node: n.name, port: n.names.port(e.port), ...(e.slot === GEN_SLOT ? { generated: true } : {}) });
          continue;
        }
        if (peer === undefined) {
          result.outcomes.push({ node: n.name, port: n.names.port(e.port), dropped: 'no node owns the underlay destination MAC' });
          continue;
        }
        if (depth >= MAX_HOPS) {
          result.outcomes.push({ node: n.name, dropped: 'too many hops (a forwarding loop?)' });
          continue;
        }
        const p = nodes[peer];
        // a bridged underlay TAP with UDP-tunnel GSO: its header where a read would put it (tunnel_gso.ts)
        if (n.bridged && n.tunnelGso) n.dp.ex.tunnelHdrRelay(e.start);
        const x = p.dp.slots; // the rx entry past the slots, as the fabric hands frames over
        p.dp.rxAddr[x] = e.start;
        p.dp.rxLen[x] = e.length;
        p.dp.rxPort[x] = p.ulPort;
        run(peer, x, depth + 1);
      }
    };
    const s = nodes[start];
    s.dp.putFrame(0, port, frame);
    // read from a tunnel-GSO underlay TAP, the header is the 24-byte one in front (tunnel_gso.ts)
    if (port === s.ulPort && s.bridged && s.tunnelGso) s.dp.ex.tunnelHdrPlace(s.dp.rxAddr[0]);
    run(start, 0, 0);
  } finally {
    for (const n of nodes) {
      n.dp.traceEnd();
      n.dp.txClear();
    }
  }
  return result;
}
