// `podwire netem set|clear POD` (a pod's link) or `A:B` (the link between
// podwire nodes A and B, both directions): impairment, live. The spec is read
// by the same rules as the topology's netem: (model/netem.ts), kept in the
// plan (so a restarted forwarding worker keeps it, and `podwire status` shows
// it) and handed to the worker (dataplane/impairment.ts).
import { localNodes, type LabPlan, type PodPlan } from '../model/topology.ts';
import { findPod, podLabel } from '../model/pod-refs.ts';
import { parseNetem, formatNetem, type NetemSpec } from '../model/netem.ts';
import { TopologyError } from '../model/errors.ts';
import type { Lab } from './lab.ts';
import { withDnsPod } from './cluster-dns.ts';

/** The impairment as `netem set|clear` answer it: target is the pod (then node is its node) or the link "A:B". */
export interface NetemChange { target: string; node?: string; netem?: NetemSpec; text: string }

export class NetemControl {
  constructor(private readonly plan: LabPlan, private readonly lab: Pick<Lab, 'setNetem' | 'setLinkNetem'>) {}

  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'netemSet') return this.set(String(req.pod), req.netem);
    if (req.cmd === 'netemClear') return this.set(String(req.pod), undefined);
    return undefined;
  }

  /** Impair `ref`'s link with `raw` (a netem mapping as in the topology), or clear it (undefined). */
  async set(ref: string, raw: unknown): Promise<NetemChange> {
    if (ref.includes(':')) return this.setLink(ref, raw);
    const { pod, node } = this.find(ref);
    const spec = readSpec(raw, `netem for pod ${ref}`);
    await this.lab.setNetem(node, pod.port, spec ?? null);
    if (spec) pod.netem = spec;
    else delete pod.netem;
    return { target: podLabel(pod), node, ...(spec ? { netem: spec } : {}), text: spec ? formatNetem(spec) : 'none' };
  }

  /** "A:B": both directions of the in-process underlay between podwire nodes A and B. */
  private async setLink(ref: string, raw: unknown): Promise<NetemChange> {
    const between = ref.split(':') as [string, string];
    const nodes = localNodes(this.plan);
    if (between.length !== 2 || between[0] === between[1]) throw new Error(`netem: "${ref}" is not a link: name two different nodes, as A:B`);
    for (const name of between) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`netem: no node "${name}" in this lab (nodes: ${nodes.map((x) => x.name).join(', ')})`);
      if (n.dataplane !== 'podwire') throw new Error(`netem: node ${name} is a kernel node: only links between podwire nodes can be impaired`);
    }
    const spec = readSpec(raw, `netem for link ${ref}`);
    await this.lab.setLinkNetem(between, spec ?? null);
    const links = (this.plan.links ??= []);
    let link = links.find((l) => l.between.includes(between[0]) && l.between.includes(between[1]));
    if (!link) links.push(link = { between });
    if (spec) link.netem = spec;
    else delete link.netem;
    return { target: between.join(':'), ...(spec ? { netem: spec } : {}), text: spec ? formatNetem(spec) : 'none' };
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

/** A netem mapping as `podwire netem set` sends it, read by the topology's rules; undefined: clear. */
function readSpec(raw: unknown, where: string): NetemSpec | undefined {
  if (raw === undefined) return undefined;
  const problems: string[] = [];
  const spec = parseNetem(raw, where, problems);
  if (problems.length) throw new TopologyError(problems, 'netem', 'netem is invalid');
  if (!spec) throw new Error('netem set: nothing to impair (give --delay, --loss, --rate, --duplicate or --corrupt; to remove an impairment: podwire netem clear TARGET)');
  return spec;
}
