// Pass 3 of planTopology: every address decided. Nodes without a podCIDR get
// the next free one in address order (as the node IPAM controller does);
// each node's gateway is its range's first host, its pods the following
// ones in the order written; underlay addresses are nodes[].address or the
// next of cluster.underlayCIDR; MACs follow from addresses (addr.ts).
import { freeSubnets, nthAddress, podCapacity } from './cidr.ts';
import { macForIp } from './addr.ts';
import { OVERLAY_OVERHEAD, type NodePlan } from './topology-types.ts';
import { podNetns } from './namespaces.ts';
import type { CheckedTopology, CheckedNode } from './topology-validate.ts';

/** The nodes with their addresses, or undefined when they do not fit (problems recorded). */
export function allocateAddresses(t: CheckedTopology, problems: string[]): NodePlan[] | undefined {
  const { cluster } = t;
  const cidrs = allocatePodCidrs(t, problems);
  if (!cidrs) return undefined;
  // a node's address is its underlay address; the others are numbered from the underlay range
  const underlayIps = t.nodes.map((n, i) => n.address ?? nthAddress(cluster.underlayCIDR!, i + 1));
  for (let a = 0; a < t.nodes.length; a++) {
    for (let b = a + 1; b < t.nodes.length; b++) {
      if (underlayIps[a] === underlayIps[b]) problems.push(`nodes ${t.nodes[a].name} and ${t.nodes[b].name} have the same underlay address ${underlayIps[a]}`);
    }
  }
  if (problems.length) return undefined;

  const podMtu = cluster.mtu - OVERLAY_OVERHEAD[cluster.overlay];
  return t.nodes.map((n, i) => {
    const cidr = cidrs[i];
    const gateway = nthAddress(cidr, 1);
    const underlayIp = underlayIps[i];
    return {
      name: n.name,
      dataplane: n.dataplane,
      podCIDR: cidr.text,
      gateway,
      gatewayMac: macForIp(gateway),
      underlayIp,
      ...(n.address ? { address: n.address } : {}),
      maxPods: n.maxPods,
      underlayMac: macForIp(underlayIp),
      vtepMac: vtepMacFor(underlayIp),
      pods: n.pods.map((p, port) => {
        const ip = nthAddress(cidr, port + 2);
        return {
          name: p.name, labels: p.labels, namespace: podNetns(p.name, p.namespace), k8sNamespace: p.namespace,
          ...(p.ports.length ? { ports: p.ports } : {}), ...(p.hostname ? { hostname: p.hostname } : {}), ...(p.subdomain ? { subdomain: p.subdomain } : {}), ...(p.netem ? { netem: { ...p.netem } } : {}), node: n.name,
          ip, prefixLen: cidr.prefixLen, mac: macForIp(ip), gateway, mtu: podMtu, port,
        };
      }),
    };
  });
}

/** Each node's pod CIDR (given, or the next free /nodeCIDRMaskSize), checked to hold its pods. */
function allocatePodCidrs(t: CheckedTopology, problems: string[]): NonNullable<CheckedNode['cidr']>[] | undefined {
  const { clusterCIDR, nodeCIDRMaskSize: maskSize } = t.cluster;
  const taken = t.nodes.flatMap((n) => (n.cidr ? [n.cidr] : []));
  const free = freeSubnets(clusterCIDR!, maskSize, taken);
  const cidrs = t.nodes.map((n) => {
    if (n.cidr) return n.cidr;
    const next = free.next();
    if (next.done) { problems.push(`cluster.clusterCIDR ${clusterCIDR!.text} has no free /${maskSize} left for node ${n.name}`); return undefined; }
    return next.value;
  });
  t.nodes.forEach((n, i) => {
    const c = cidrs[i];
    if (c && n.pods.length > podCapacity(c)) problems.push(`node ${n.name}: podCIDR ${c.text} holds ${podCapacity(c)} pods, ${n.pods.length} asked for`);
  });
  return problems.length ? undefined : (cidrs as NonNullable<CheckedNode['cidr']>[]);
}

/** A node's VTEP MAC: 0e:58 and its underlay address (locally administered, distinct from its underlay MAC). */
function vtepMacFor(underlayIp: string): string {
  return '0e' + macForIp(underlayIp).slice(2);
}
