// The lab's NetworkPolicies: the current list (the topology's, then what
// `podwire apply` changes) and `podwire policies`: per node, per pod, what
// the compiled tables isolate and allow (network-policy-compile.ts).
import type { LabPlan } from '../model/topology.ts';
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
  /** the policies isolating the pod per direction (absent: not isolated, everything allowed) */
  ingress?: { isolatedBy: string[]; allow: PolicyAllowJson[] };
  egress?: { isolatedBy: string[]; allow: PolicyAllowJson[] };
}
export interface PoliciesJson { policies: string[]; pods: PolicyPodJson[] }

/** The per-pod view of one node's compiled tables. */
export function policyPodsJson(c: CompiledPolicies): PolicyPodJson[] {
  return c.pods.map((p) => {
    const dir = (d: Direction) => (p[d].length ? {
      isolatedBy: p[d],
      allow: c.allows.filter((a) => a.podIp === p.ip && a.direction === d).flatMap((a) => a.ranges.map((r) => {
        const rule = c.rules[r.rule];
        return { peer: peerName(c, a.peer), protocol: PROTO_NAMES[a.protocol] ?? String(a.protocol), ports: r.lo === 0 && r.hi === 65535 ? 'all' : r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`, rule: `${rule.policy} ${rule.direction}[${rule.index}]` };
      })),
    } : undefined);
    const ingress = dir('ingress'), egress = dir('egress');
    return { node: c.node, pod: `${p.namespace}/${p.name}`, ip: intToIpv4(p.ip), ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) };
  });
}

export class PolicyControl {
  private policies: NetworkPolicySpec[];
  constructor(private readonly plan: LabPlan) {
    this.policies = plan.networkPolicies ?? [];
  }

  /** The compiled tables of node `node` for the current policies. */
  compiled(node: string): CompiledPolicies {
    return compilePlanPolicies({ ...this.plan, networkPolicies: this.policies }, node);
  }

  /** The answer to 'policies', or undefined for other commands. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'policies') return Promise.resolve(this.snapshot());
    return undefined;
  }

  snapshot(): PoliciesJson {
    return {
      policies: this.policies.map((p) => `${p.namespace}/${p.name}`),
      pods: this.plan.nodes.flatMap((n) => policyPodsJson(this.compiled(n.name))),
    };
  }
}
