// Leased pod CIDRs followed live: a node whose range the topology leaves
// open holds the range its lease says (subnet-lease.ts), which a host that
// started before that node knew nothing of. When the live leases change,
// the plan is made again from the topology and the leases (store-lab.ts
// planWithLeases, the same on every host) and every other node whose range
// moved gets its new addresses in place: its pod CIDR and gateway, its
// pods' addresses and MACs. The caller then programs what follows from them
// (routes, Service endpoints, NetworkPolicy peers). This host's own node
// never moves: its range is its own lease's.
import type { LabPlan } from '../model/topology.ts';
import type { ClusterConfig, NodeLease } from '../store/schema.ts';
import { leasesItsRange, planWithLeases } from '../store/store-lab.ts';

/** Re-address `plan`'s other nodes from the live leases; the names of the nodes whose range changed. Throws when the leases do not plan (naming why). */
export function readdressFromLeases(plan: LabPlan, config: ClusterConfig, live: Map<string, NodeLease>): string[] {
  const leased = new Map([...live].filter(([node]) => leasesItsRange(config, node)).map(([node, l]) => [node, l.podCIDR]));
  const want = planWithLeases(plan.name, config, leased);
  const moved: string[] = [];
  for (const n of plan.nodes) {
    if (n.name === plan.hostNode) continue;
    const w = want.nodes.find((x) => x.name === n.name);
    if (!w || w.podCIDR === n.podCIDR) continue;
    n.podCIDR = w.podCIDR;
    n.gateway = w.gateway;
    n.gatewayMac = w.gatewayMac;
    for (const p of n.pods) {
      const wp = w.pods.find((x) => x.name === p.name && x.k8sNamespace === p.k8sNamespace);
      if (wp) Object.assign(p, { ip: wp.ip, mac: wp.mac, gateway: wp.gateway, prefixLen: wp.prefixLen });
    }
    moved.push(n.name);
  }
  return moved;
}
