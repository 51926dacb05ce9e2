// The lab's NetworkPolicies: the current list (the topology's, then what
// `podwire apply` / `podwire delete networkpolicy` change, as kubectl does:
// created or replaced by namespace/name), programmed into every podwire node
// here (recompiled whole, written between rounds: established connections
// stay tracked and keep passing), and `podwire policies`: per node, per pod,
// what the compiled tables isolate and allow (network-policy-compile.ts).
// Kernel nodes enforce the same compiled tables as nftables rules
// (kernel-netpol.ts, kernel-policies.ts): a change is checked on every kernel
// node (`nft -c`) before any node, podwire or kernel, is changed, so a refused
// change leaves the lab as it was.
import { localNodes, type LabPlan } from '../model/topology.ts';
import type { Lab } from './lab.ts';
import { withDnsPod } from './cluster-dns.ts';
import type { ApplyAction } from '../model/apply.ts';
import { compilePlanPolicies, peerName, type CompiledPolicies, type Direction } from '../model/network-policy-compile.ts';
import { intToIpv4 } from '../model/addr.ts';
import type { NetworkPolicySpec } from '../model/network-policy.ts';
import { policyChain } from './kernel-netpol.ts';

const PROTO_NAMES: Record<number, string> = { 0: 'any', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** One allow entry as `podwire policies` shows it. */
export interface PolicyAllowJson { peer: string; protocol: string; ports: string; rule: string }
export interface PolicyPodJson {
  node: string;
  /** namespace/name */
  pod: string;
  ip: string;
  /** whether the pod's node enforces NetworkPolicy */
  enforced: boolean;
  /** who judges: podwire's data plane, or the kernel node's nftables table (inet pw_netpol) */
  enforcedBy?: 'podwire' | 'nftables';
  /** kernel nodes: packets the pod's deny rules dropped (nft counters), per direction */
  denied?: { ingress?: number; egress?: number };
  /** the policies isolating the pod per direction (absent: not isolated, everything allowed) */
  ingress?: { isolatedBy: string[]; allow: PolicyAllowJson[] };
  egress?: { isolatedBy: string[]; allow: PolicyAllowJson[] };
}
export interface PoliciesJson { policies: string[]; pods: PolicyPodJson[] }

/** The per-pod view of one node's compiled tables. */
export function policyPodsJson(c: CompiledPolicies, enforcedBy: PolicyPodJson['enforcedBy'] = 'podwire'): PolicyPodJson[] {
  return c.pods.map((p) => {
    const dir = (d: Direction) => (p[d].length ? {
      isolatedBy: p[d],
      allow: c.allows.filter((a) => a.podIp === p.ip && a.direction === d).flatMap((a) => a.ranges.map((r) => {
        const rule = c.rules[r.rule];
        return { peer: peerName(c, a.peer), protocol: PROTO_NAMES[a.protocol] ?? String(a.protocol), ports: r.lo === 0 && r.hi === 65535 ? 'all' : r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`, rule: `${rule.policy} ${rule.direction}[${rule.index}]` };
      })),
    } : undefined);
    const ingress = dir('ingress'), egress = dir('egress');
    return { node: c.node, pod: `${p.namespace}/${p.name}`, ip: intToIpv4(p.ip), enforced: enforcedBy !== undefined, ...(enforcedBy ? { enforcedBy } : {}), ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) };
  });
}

export interface PolicyChangeResult { namespace: string; name: string; action: ApplyAction }
const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

export class PolicyControl {
  private policies: NetworkPolicySpec[];
  constructor(private readonly plan: LabPlan, private readonly lab?: Pick<Lab, 'syncPolicies' | 'kernelPolicies'>) {
    this.policies = plan.networkPolicies ?? [];
  }

  /** The compiled tables of node `node` for the current policies (the cluster DNS pod is a peer like any other, as at up). */
  compiled(node: string, policies = this.policies): CompiledPolicies {
    return compilePlanPolicies({ ...withDnsPod(this.plan), networkPolicies: policies }, node);
  }

  /** The answer to 'policies', or undefined for other commands. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'policies') return this.snapshot();
    if (req.cmd === 'applyPolicies') return this.apply(req.policies as NetworkPolicySpec[]);
    if (req.cmd === 'deletePolicies') return this.delete(req.refs as { namespace: string; name: string }[]);
    return undefined;
  }

  /** Create or replace each of `policies` (by namespace/name); the data plane has them when this resolves. */
  async apply(policies: NetworkPolicySpec[]): Promise<{ results: PolicyChangeResult[] }> {
    const had = new Map(this.policies.map((p) => [key(p), p]));
    const results = policies.map((p): PolicyChangeResult => {
      const before = had.get(key(p));
      return { namespace: p.namespace, name: p.name, action: !before ? 'created' : JSON.stringify(before) === JSON.stringify(p) ? 'unchanged' : 'configured' };
    });
    const byKey = new Map(policies.map((p) => [key(p), p]));
    const next = [...this.policies.map((p) => byKey.get(key(p)) ?? p), ...policies.filter((p) => !had.has(key(p)))];
    await this.program(next);
    return { results };
  }

  /** Delete these policies; throws naming any that does not exist (then nothing changes). */
  async delete(refs: { namespace: string; name: string }[]): Promise<{ results: PolicyChangeResult[] }> {
    const have = new Set(this.policies.map(key));
    const missing = refs.filter((r) => !have.has(key(r)));
    if (missing.length) throw new Error(missing.map((r) => `networkpolicies.networking.k8s.io "${r.name}" not found in namespace ${r.namespace}`).join('; '));
    const gone = new Set(refs.map(key));
    await this.program(this.policies.filter((p) => !gone.has(key(p))));
    return { results: refs.map((r) => ({ ...r, action: 'deleted' as const })) };
  }

  /**
   * The lab's pods changed (a container runtime's pod attached or removed,
   * cni-control.ts): the same policies compiled again from today's pods, so
   * they select the new pod by its labels like a pod of the topology, and a
   * removed pod's address (which the next ADD may get) keeps no rule of it.
   */
  async podsChanged(): Promise<void> {
    if (this.policies.length) await this.program(this.policies);
  }

  /**
   * Make `next` the lab's policies: compiled and programmed into every podwire
   * node here and loaded into every kernel node. The kernel nodes' scripts are
   * checked first (nothing changes when one is refused); a later failure puts
   * every node back to the policies before.
   */
  private async program(next: NetworkPolicySpec[]): Promise<void> {
    const before = this.policies;
    const kernel = this.lab?.kernelPolicies;
    const scripts = kernel?.render((node) => this.compiled(node, next));
    if (kernel && scripts) await kernel.check(scripts);
    const podwireNodes = localNodes(this.plan).filter((n) => n.dataplane === 'podwire');
    this.policies = next;
    this.plan.networkPolicies = next; // a restarted worker is programmed from the plan
    try {
      for (const n of podwireNodes) await this.lab?.syncPolicies(n.name, this.compiled(n.name));
      if (kernel && scripts) await kernel.load(scripts);
    } catch (e) {
      this.policies = before;
      this.plan.networkPolicies = before;
      for (const n of podwireNodes) await this.lab?.syncPolicies(n.name, this.compiled(n.name)).catch(() => {});
      if (kernel) await kernel.load(kernel.render((node) => this.compiled(node))).catch(() => {});
      throw e;
    }
  }

  async snapshot(): Promise<PoliciesJson> {
    const kernel = this.lab?.kernelPolicies;
    const pods = await Promise.all(this.plan.nodes.map(async (n) => {
      if (n.dataplane === 'podwire') return policyPodsJson(this.compiled(n.name), 'podwire');
      const enforcing = kernel?.targets.some((t) => t.node === n.name);
      const view = policyPodsJson(this.compiled(n.name), enforcing ? 'nftables' : undefined);
      if (!enforcing) return view;
      const denied = await kernel!.denied(n.name).catch(() => new Map<string, number>());
      return view.map((p) => {
        const [ns, name] = p.pod.split('/');
        const count = (d: Direction) => (p[d] ? { [d]: denied.get(policyChain(d, { namespace: ns, name })) ?? 0 } : {});
        return { ...p, denied: { ...count('ingress'), ...count('egress') } };
      });
    }));
    return { policies: this.policies.map((p) => `${p.namespace}/${p.name}`), pods: pods.flat() };
  }
}
