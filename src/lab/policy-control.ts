// The lab's NetworkPolicies: the current list (the topology's, then what
// `podwire apply` / `podwire delete networkpolicy` change, as kubectl does:
// created or replaced by namespace/name), programmed into every podwire node
// here (recompiled whole, written between rounds: established connections
// stay tracked and keep passing), and `podwire policies`: per node, per pod,
// what the compiled tables isolate and allow (network-policy-compile.ts).
// Kernel nodes do not enforce NetworkPolicy yet: `policies` says so.
import { localNodes, type LabPlan } from '../model/topology.ts';
import type { Lab } from './lab.ts';
import { withDnsPod } from './cluster-dns.ts';
import type { ApplyAction } from '../model/apply.ts';
import { compilePlanPolicies, peerName, type CompiledPolicies, type Direction } from '../model/network-policy-compile.ts';
import { intToIpv4 } from '../model/addr.ts';
import type { NetworkPolicySpec } from '../model/network-policy.ts';

const PROTO_NAMES: Record<number, string> = { 0: 'any', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** One allow entry as `podwire policies` shows it. */
export interface PolicyAllowJson { peer: string; protocol: string; ports: string; rule: string }
export interface PolicyPodJson {
  node: string;
  /** namespace/name */
  pod: string;
  ip: string;
  /** false on a kernel node: it does not enforce NetworkPolicy (yet) */
  enforced: boolean;
  /** the policies isolating the pod per direction (absent: not isolated, everything allowed) */
  ingress?: { isolatedBy: string[]; allow: PolicyAllowJson[] };
  egress?: { isolatedBy: string[]; allow: PolicyAllowJson[] };
}
export interface PoliciesJson { policies: string[]; pods: PolicyPodJson[] }

/** The per-pod view of one node's compiled tables. */
export function policyPodsJson(c: CompiledPolicies, enforced = true): PolicyPodJson[] {
  return c.pods.map((p) => {
    const dir = (d: Direction) => (p[d].length ? {
      isolatedBy: p[d],
      allow: c.allows.filter((a) => a.podIp === p.ip && a.direction === d).flatMap((a) => a.ranges.map((r) => {
        const rule = c.rules[r.rule];
        return { peer: peerName(c, a.peer), protocol: PROTO_NAMES[a.protocol] ?? String(a.protocol), ports: r.lo === 0 && r.hi === 65535 ? 'all' : r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`, rule: `${rule.policy} ${rule.direction}[${rule.index}]` };
      })),
    } : undefined);
    const ingress = dir('ingress'), egress = dir('egress');
    return { node: c.node, pod: `${p.namespace}/${p.name}`, ip: intToIpv4(p.ip), enforced, ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) };
  });
}

export interface PolicyChangeResult { namespace: string; name: string; action: ApplyAction }
const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

export class PolicyControl {
  private policies: NetworkPolicySpec[];
  constructor(private readonly plan: LabPlan, private readonly lab?: Pick<Lab, 'syncPolicies'>) {
    this.policies = plan.networkPolicies ?? [];
  }

  /** The compiled tables of node `node` for the current policies (the cluster DNS pod is a peer like any other, as at up). */
  compiled(node: string): CompiledPolicies {
    return compilePlanPolicies({ ...withDnsPod(this.plan), networkPolicies: this.policies }, node);
  }

  /** The answer to 'policies', or undefined for other commands. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'policies') return Promise.resolve(this.snapshot());
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

  /** Make `next` the lab's policies: compiled and programmed into every podwire node here. */
  private async program(next: NetworkPolicySpec[]): Promise<void> {
    const before = this.policies;
    this.policies = next;
    this.plan.networkPolicies = next; // a restarted worker is programmed from the plan
    try {
      for (const n of localNodes(this.plan)) if (n.dataplane === 'podwire') await this.lab?.syncPolicies(n.name, this.compiled(n.name));
    } catch (e) {
      this.policies = before;
      this.plan.networkPolicies = before;
      for (const n of localNodes(this.plan)) if (n.dataplane === 'podwire') await this.lab?.syncPolicies(n.name, this.compiled(n.name)).catch(() => {});
      throw e;
    }
  }

  snapshot(): PoliciesJson {
    return {
      policies: this.policies.map((p) => `${p.namespace}/${p.name}`),
      pods: this.plan.nodes.flatMap((n) => policyPodsJson(this.compiled(n.name), n.dataplane === 'podwire')),
    };
  }
}
