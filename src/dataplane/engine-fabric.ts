// The in-process underlay (the fabric). All nodes of a lab share one
// WebAssembly memory, so a frame one node sends on its underlay port is
// handed to the node that owns its destination MAC by address: that node
// processes it in place (decap, route) and its output is written or handed
// on in turn. Nodes know each other's MACs (programmed neighbours), so
// nothing in-process broadcasts on the underlay; a broadcast or unknown MAC
// has no peer and is counted.
import { frameDstMacKey, macKey } from './memory-views.ts';
import { parseMac } from '../model/addr.ts';
import type { EngineNode } from './engine-nodes.ts';
import type { EngineNodeConfig, FabricStats } from './engine-protocol.ts';

/** How many underlay hand-overs one frame may cause in a round before it is dropped as a loop. */
const MAX_FABRIC_DEPTH = 16;

export class Fabric {
  readonly stats: FabricStats = { noPeer: 0, tooDeep: 0, delivered: 0 };
  /** which node owns each underlay MAC (as macKey) */
  private readonly byMac = new Map<number, number>();
  /** Writes (or hands on) what a peer queued for a handed-over frame: the io loop's flush, set once. */
  flush: (peer: EngineNode, depth: number) => void = () => {};

  constructor(private readonly nodes: EngineNode[], configs: EngineNodeConfig[], private readonly mem8: Uint8Array) {
    configs.forEach((n, i) => { if (n.underlay) this.byMac.set(macKey(parseMac(n.underlay.mac)), i); });
  }

  /** The node owning the destination MAC of the underlay frame whose vnet header is at `vnetAt`, if any. */
  ownerOf(vnetAt: number): number | undefined {
    return this.byMac.get(frameDstMacKey(this.mem8, vnetAt));
  }

  /** Give an underlay frame (vnet header at `start`, `length` bytes with it) to the node owning its destination MAC. */
  handOver(start: number, length: number, depth: number): void {
    const i = this.ownerOf(start);
    if (i === undefined) { this.stats.noPeer++; return; }
    this.receive(this.nodes[i], start, length, depth);
  }

  /**
   * Give node `i` a frame held by a link impairment (impairment.ts), as if
   * handed over now: copied into its first read slot, which is free between
   * rounds, when impaired frames are released. False when it cannot hold it.
   */
  deliverHeld(i: number, frame: Uint8Array): boolean {
    const peer = this.nodes[i];
    if (frame.length > peer.dp.readCapacity) return false;
    const at = peer.dp.readOffset(0);
    this.mem8.set(frame, at);
    this.receive(peer, at, frame.length, 0);
    return true;
  }

  private receive(peer: EngineNode, start: number, length: number, depth: number): void {
    if (depth >= MAX_FABRIC_DEPTH) { this.stats.tooDeep++; return; }
    if (peer.drained === peer.txTotal && peer.txTotal > 0) {
      // everything the peer queued is written: start its list afresh, so hand-overs cannot fill it
      peer.dp.txClear();
      peer.txTotal = 0;
      peer.drained = 0;
    }
    const x = peer.dp.slots; // the rx entry past the slots, reserved for hand-overs
    peer.dp.rxAddr[x] = start;
    peer.dp.rxLen[x] = length;
    peer.dp.rxPort[x] = peer.ulPort;
    peer.txTotal = peer.dp.processRange(x, 1);
    this.stats.delivered++;
    this.flush(peer, depth + 1);
  }
}
