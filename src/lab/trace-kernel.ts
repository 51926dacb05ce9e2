// `podwire trace` into a kernel node. The walk (dataplane/trace-walk.ts)
// follows a packet through podwire nodes only: what a kernel node does with it
// happens inside the Linux kernel, which a dry run cannot see. When the
// packet's (translated) destination is a pod on a kernel node, the reply says
// so, and names what that node's NetworkPolicy rules decide: the verdict of
// the compiled tables its nftables table (inet pw_netpol, kernel-netpol.ts)
// was rendered from, and the packets its deny rule has dropped so far, read
// from the kernel's own counter.
import type { LabPlan } from '../model/topology.ts';
import { compilePlanPolicies, decidePolicy, PROTO_NUMBER } from '../model/network-policy-compile.ts';
import { podLabel } from '../model/pod-refs.ts';
import type { TraceResult } from '../dataplane/trace-walk.ts';
import type { ProbeProto } from '../dataplane/probe.ts';
import { withDnsPod } from './cluster-dns.ts';
import { policyChain } from './kernel-netpol.ts';
import type { KernelPolicies } from './kernel-policies.ts';

export interface KernelHop {
  node: string;
  /** the destination pod (namespace/name) and its address */
  pod: string;
  ip: string;
  /** who decides there: the kernel's nftables (table inet pw_netpol), or nobody (the node enforces no policy) */
  judgedBy: 'nftables' | 'none';
  /** what the node's rules decide for this packet's connection */
  ingress: { allowed: boolean; rule?: string; isolatedBy: string[] };
  /** packets the pod's ingress deny rule has dropped since the rules were last loaded */
  deniedSoFar?: number;
}

/**
 * The kernel hop of a trace from `srcIp`: undefined unless the packet left
 * podwire (no copy dropped) towards a pod of a kernel node. The destination is
 * the last DNAT's, or `dstIp`.
 */
export async function kernelHop(plan: LabPlan, kernel: KernelPolicies | undefined, result: TraceResult, srcIp: string, dstIp: string,
  proto: ProbeProto, port: number | undefined): Promise<KernelHop | undefined> {
  if (result.outcomes.some((o) => o.dropped || o.generated)) return undefined;
  const dnat = result.hops.flatMap((h) => h.steps).filter((s) => s.step === 'nat' && s.detail.field === 'destination').at(-1);
  const [ip, natPort] = dnat ? String(dnat.detail.after).split(':') : [dstIp, undefined];
  const node = plan.nodes.find((n) => n.dataplane === 'kernel' && n.pods.some((p) => p.ip === ip));
  if (!node) return undefined;
  const pod = node.pods.find((p) => p.ip === ip)!;
  const enforcing = kernel?.targets.some((t) => t.node === node.name) ?? false;
  const compiled = compilePlanPolicies(withDnsPod(plan), node.name);
  const protocol = proto === 'icmp' ? 1 : PROTO_NUMBER[proto.toUpperCase() as 'TCP' | 'UDP'];
  const d = decidePolicy(compiled, 'ingress', ip, srcIp, protocol, natPort !== undefined ? Number(natPort) : port ?? 0);
  const hop: KernelHop = {
    node: node.name, pod: podLabel(pod), ip, judgedBy: enforcing ? 'nftables' : 'none',
    ingress: { allowed: d.allowed, ...(d.rule ? { rule: `${d.rule.policy} ${d.rule.direction}[${d.rule.index}]` } : {}), isolatedBy: d.isolatedBy },
  };
  if (enforcing && d.isolatedBy.length) {
    const counters = await kernel!.denied(node.name).catch(() => undefined);
    const n = counters?.get(policyChain('ingress', { namespace: pod.k8sNamespace, name: pod.name }));
    if (n !== undefined) hop.deniedSoFar = n;
  }
  return hop;
}
