// `podwire netem set|clear POD`: impair a pod's link live. The spec is read
// by the same rules as the topology's pods[].netem (model/netem.ts), kept on
// the pod's plan (so a restarted forwarding worker keeps it, and `podwire
// status` shows it) and handed to the worker (dataplane/impairment.ts).
import { localNodes, type LabPlan, type PodPlan } from '../model/topology.ts';
import { findPod, podLabel } from '../model/pod-refs.ts';
import { parseNetem, formatNetem, type NetemSpec } from '../model/netem.ts';
import { TopologyError } from '../model/errors.ts';
import type { Lab } from './lab.ts';
import { withDnsPod } from './cluster-dns.ts';

/** One pod's impairment as `netem set|clear` answer it. */
export interface NetemChange { pod: string; node: string; netem?: NetemSpec; text: string }

export class NetemControl {
  constructor(private readonly plan: LabPlan, private readonly lab: Pick<Lab, 'setNetem'>) {}

  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'netemSet') return this.set(String(req.pod), req.netem);
    if (req.cmd === 'netemClear') return this.set(String(req.pod), undefined);
    return undefined;
  }

  /** Impair `ref`'s link with `raw` (a netem mapping as in the topology), or clear it (undefined). */
  async set(ref: string, raw: unknown): Promise<NetemChange> {
    const { pod, node } = this.find(ref);
    let spec: NetemSpec | undefined;
    if (raw !== undefined) {
      const problems: string[] = [];
      spec = parseNetem(raw, `netem for pod ${ref}`, problems);
      if (problems.length) throw new TopologyError(problems, 'netem', 'netem is invalid');
      if (!spec) throw new Error('netem set: nothing to impair (give --delay, --loss, --rate, --duplicate or --corrupt; to remove an impairment: podwire netem clear POD)');
    }
    await this.lab.setNetem(node, pod.port, spec ?? null);
    if (spec) pod.netem = spec;
    else delete pod.netem;
    return { pod: podLabel(pod), node, ...(spec ? { netem: spec } : {}), text: spec ? formatNetem(spec) : 'none' };
  }

  private find(ref: string): { pod: PodPlan; node: string } {
    const nodes = localNodes(withDnsPod(this.plan));
    for (const n of nodes) {
      const pod = findPod(n.pods, ref);
      if (!pod) continue;
      if (n.dataplane !== 'podwire') throw new Error(`pod ${ref} is on kernel node ${n.name}: podwire impairs frames in its data plane, on podwire nodes' pods only`);
      return { pod, node: n.name };
    }
    throw new Error(`no pod "${ref}" in this lab (pods: ${nodes.flatMap((n) => n.pods.map(podLabel)).join(', ')})`);
  }
}
