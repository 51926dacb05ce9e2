// Decision traces in the forwarding worker: `podwire trace` (a synthetic
// packet walked through every node between rounds: trace-walk.ts) and live
// tracing (each round's records, decoded per node and posted to the main
// thread, which filters and rate-limits them). Every node is named for the
// decoder: ports by pod, frontends by Service, drops by reason.
import { traceWalk, type TraceWalkNode, type TraceHop } from './trace-walk.ts';
import { decodeTrace } from './trace.ts';
import { policyDecisionText } from './policy-sync.ts';
import { inProcessUnderlay, type EngineNode } from './engine-nodes.ts';
import type { Fabric } from './engine-fabric.ts';
import type { NodeServices } from './service-sync.ts';
import type { EngineNodeConfig, EngineReply, EngineRequest } from './engine-protocol.ts';

export class EngineTrace {
  /** live tracing is on: every round's records are posted */
  live = false;
  private readonly walkNodes: TraceWalkNode[];

  constructor(
    private readonly nodes: EngineNode[],
    configs: EngineNodeConfig[],
    services: NodeServices[],
    private readonly fabric: Fabric,
  ) {
    this.walkNodes = nodes.map((n, i) => {
      const portNames = new Map<number, string>(configs[i].ports.map((p) => [p.port, p.name]));
      if (n.ulPort >= 0) portNames.set(n.ulPort, `${n.name}/underlay`);
      return {
        name: n.name, dp: n.dp, ulPort: n.ulPort, fabric: inProcessUnderlay(n), bridged: n.ulFd >= 0, tunnelGso: n.ulHdrExtra > 0,
        names: {
          port: (p) => portNames.get(p) ?? `${n.name}/port${p}`,
          service: (vip, p, proto) => services[i].serviceOf(vip, p, proto),
          drop: (r) => n.dp.dropName(r),
          policy: (dir, local, allowed, x) => policyDecisionText(n.dp, dir, local, allowed, x),
        },
      };
    });
  }

  /** Walk a synthetic packet through the nodes (between rounds, when every slot and tx list is free); live tracing pauses meanwhile. */
  synthetic(req: Extract<EngineRequest, { type: 'trace' }>): EngineReply {
    try {
      const start = this.nodes.findIndex((n) => n.name === req.node);
      if (start < 0) throw new Error(`no podwire node ${req.node} in this lab`);
      if (this.live) for (const n of this.nodes) n.dp.traceEnd(); // a synthetic run takes the rings; live resumes below
      const result = traceWalk(this.walkNodes, start, req.port, req.frame, (at) => this.fabric.ownerOf(at));
      return { type: 'trace', id: req.id, result };
    } catch (e) {
      return { type: 'trace', id: req.id, error: (e as Error).message };
    } finally {
      if (this.live) for (const n of this.nodes) n.dp.traceBegin(false);
    }
  }

  setLive(on: boolean): void {
    this.live = on;
    for (const n of this.nodes) if (on) n.dp.traceBegin(false); else n.dp.traceEnd();
  }

  /** This round's records, decoded per node (only nodes that wrote some), or undefined when there are none. */
  takeRound(): EngineReply | undefined {
    const hops: TraceHop[] = [];
    for (const t of this.walkNodes) {
      if (t.dp.ex.traceCount() === 0) continue;
      const { words, lost } = t.dp.traceRecords();
      t.dp.ex.traceReset();
      hops.push({ node: t.name, steps: decodeTrace(words, t.names), lost });
    }
    return hops.length ? { type: 'traceRecords', hops } : undefined;
  }
}
