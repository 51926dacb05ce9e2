// Pass 2 of planTopology: checks across fields, before any address is
// decided. Names valid and unique, ranges that must not meet do not meet,
// choices that exclude each other (a kernel node and IP-in-IP, a kernel node
// off the bridge underlay) refused. Problems are recorded, all at once.
import { overlaps, inside, podCapacity, containsAddress, type Cidr } from './cidr.ts';
import { ipv4ToInt } from './addr.ts';
import { DNS_OFFSET } from './services.ts';
import { clusterDnsNameProblems } from './dns.ts';
import {
  OVERLAY_OVERHEAD, MAX_TAP_MTU, DATAPLANES, UNDERLAYS, NAME_RE, MAX_NAME,
  type Overlay, type DataplaneKind, type UnderlayKind,
} from './topology-types.ts';
import type { TopologyInput, ClusterInput, PodInput } from './topology-parse.ts';
import { isNamespaceName } from './namespaces.ts';
import { checkLinks } from './links.ts';

export interface CheckedNode {
  name: string;
  dataplane: DataplaneKind;
  cidr?: Cidr;
  /** nodes[].address, a usable host address */
  address?: string;
  maxPods: number;
  pods: PodInput[];
}

/** The topology once validated: choices resolved to known values. */
export interface CheckedTopology {
  cluster: Omit<ClusterInput, 'overlay' | 'underlay'> & { overlay: Overlay; underlay: UnderlayKind };
  namespaces: TopologyInput['namespaces'];
  nodes: CheckedNode[];
  services: TopologyInput['services'];
  external: TopologyInput['external'];
  networkPolicies: TopologyInput['networkPolicies'];
  links: TopologyInput['links'];
}

export function validateTopology(input: TopologyInput, problems: string[]): CheckedTopology {
  const { cluster, namespaces, nodes, services, external } = input;
  const overlay = checkCluster(cluster, problems);
  checkNames(input, problems);
  const checked = nodes.map((n): CheckedNode => {
    const known = DATAPLANES.includes(n.dataplane as DataplaneKind);
    if (known && n.dataplane === 'kernel' && overlay === 'ipip') {
      problems.push(`node ${n.name}: dataplane kernel cannot use overlay ipip (the host kernel here has no ipip module; use vxlan or host-gw)`);
    }
    const address = n.address === undefined ? undefined : hostAddress(n.address, n.name, cluster.clusterCIDR, cluster.serviceCIDR, problems);
    if (known && n.dataplane === 'kernel') {
      for (const p of n.pods) if (p.netem) problems.push(`${p.where}.netem: node ${n.name} is a kernel node: its pods sit on veths the data plane never sees, and podwire impairs frames in its data plane (pods of podwire nodes only)`);
    }
    return { name: n.name, dataplane: known ? (n.dataplane as DataplaneKind) : 'podwire', cidr: n.cidr, ...(address ? { address } : {}), maxPods: n.maxPods, pods: n.pods };
  });
  if (cluster.dns) clusterDnsNameProblems(services, nodes.map((n) => ({ node: n.name, pods: n.pods })), problems);
  checkPodCidrs(checked, cluster, problems);
  const underlay = checkUnderlay(checked, cluster, problems);
  // the frames an impaired link holds are those podwire nodes hand each other in memory (the in-process underlay)
  const inProcess = (underlay ?? 'in-process') === 'in-process' && external.length === 0;
  checkLinks(input.links, checked.map((n) => ({ name: n.name, dataplane: n.dataplane })), inProcess, problems);
  return { cluster: { ...cluster, overlay: overlay ?? 'vxlan', underlay: underlay ?? 'in-process' }, namespaces, nodes: checked, services, external, networkPolicies: input.networkPolicies, links: input.links };
}

/** The cluster's ranges and sizes against each other; returns the overlay when it is a known one. */
function checkCluster(c: ClusterInput, problems: string[]): Overlay | undefined {
  if (!NAME_RE.test(c.name)) problems.push(`cluster.name: "${c.name}" must be lowercase letters, digits and "-"`);
  const { clusterCIDR, serviceCIDR, underlayCIDR } = c;
  if (clusterCIDR && serviceCIDR && overlaps(clusterCIDR, serviceCIDR)) {
    problems.push(`cluster.serviceCIDR ${serviceCIDR.text} overlaps cluster.clusterCIDR ${clusterCIDR.text}`);
  }
  if (serviceCIDR && serviceCIDR.prefixLen > 28) {
    problems.push(`cluster.serviceCIDR ${serviceCIDR.text} is too small: the cluster DNS address is its ${DNS_OFFSET}th address (use a /28 or larger)`);
  }
  if (clusterCIDR && c.nodeCIDRMaskSize < clusterCIDR.prefixLen) {
    problems.push(`cluster.nodeCIDRMaskSize /${c.nodeCIDRMaskSize} is larger than cluster.clusterCIDR ${clusterCIDR.text}`);
  }
  const overlay = c.overlay;
  if (overlay && c.mtu - OVERLAY_OVERHEAD[overlay] > MAX_TAP_MTU) {
    problems.push(`cluster.mtu: ${c.mtu} gives pods an MTU of ${c.mtu - OVERLAY_OVERHEAD[overlay]}, above the ${MAX_TAP_MTU} a TAP device allows`);
  }
  // the underlay must not meet the pods' or the Services' addresses
  for (const [what, r] of [['clusterCIDR', clusterCIDR], ['serviceCIDR', serviceCIDR]] as const) {
    if (underlayCIDR && r && overlaps(underlayCIDR, r)) problems.push(`cluster.underlayCIDR ${underlayCIDR.text} overlaps cluster.${what} ${r.text}`);
  }
  checkLoadBalancerPool(c, problems);
  return overlay;
}

/**
 * cluster.loadBalancerPool: inside underlayCIDR, since an address is
 * announced on the underlay's L2 segment (a node answers ARP for it) and a
 * host on that segment only ARPs for addresses of its own subnet; so never
 * in the pods' or Services' ranges either.
 */
function checkLoadBalancerPool(c: ClusterInput, problems: string[]): void {
  const { loadBalancerPool: pool, underlayCIDR, clusterCIDR, serviceCIDR } = c;
  if (!pool) return;
  if (underlayCIDR && !inside(pool, underlayCIDR)) {
    problems.push(`cluster.loadBalancerPool ${pool.text} is not inside cluster.underlayCIDR ${underlayCIDR.text}: its addresses are answered on the underlay, where hosts ARP only for their own subnet`);
  }
  for (const [what, r] of [['clusterCIDR', clusterCIDR], ['serviceCIDR', serviceCIDR]] as const) {
    if (r && overlaps(pool, r)) problems.push(`cluster.loadBalancerPool ${pool.text} overlaps cluster.${what} ${r.text}`);
  }
}

/** Node and pod names: valid DNS-1123 labels; nodes unique, pods unique within their Kubernetes namespace. */
function checkNames(input: TopologyInput, problems: string[]): void {
  const nodeNames = new Map<string, string>();
  const podNames = new Map<string, string>();
  for (const n of input.nodes) {
    if (!NAME_RE.test(n.name) || n.name.length > MAX_NAME) problems.push(`${n.where}.name: "${n.name}" is not a valid node name (lowercase letters, digits, "-")`);
    const other = nodeNames.get(n.name);
    if (other !== undefined) problems.push(`duplicate node name "${n.name}" (${other} and ${n.where})`);
    nodeNames.set(n.name, n.where);
    for (const p of n.pods) {
      if (!NAME_RE.test(p.name) || p.name.length > MAX_NAME) {
        problems.push(`${p.where}: "${p.name}" is not a valid pod name (lowercase letters, digits, "-", at most ${MAX_NAME})`);
      }
      if (!isNamespaceName(p.namespace)) {
        problems.push(`${p.where}.namespace: ${JSON.stringify(p.namespace)} is not a valid namespace name (lowercase letters, digits, "-", at most 63)`);
      }
      const key = `${p.namespace}/${p.name}`;
      const on = podNames.get(key);
      if (on !== undefined) problems.push(`duplicate pod name "${p.name}" in namespace ${p.namespace} (on nodes ${on} and ${n.name}): pod names are unique within a namespace`);
      podNames.set(key, n.name);
    }
  }
}

/** Given pod CIDRs: inside the cluster CIDR, large enough, off the Service range, no two overlapping. */
function checkPodCidrs(nodes: CheckedNode[], c: ClusterInput, problems: string[]): void {
  const { clusterCIDR, serviceCIDR } = c;
  if (!clusterCIDR) return;
  for (const n of nodes) {
    if (n.cidr && !inside(n.cidr, clusterCIDR)) problems.push(`node ${n.name}: podCIDR ${n.cidr.text} is outside cluster.clusterCIDR ${clusterCIDR.text}`);
    // the gateway is the range's first host: a /31 or /32 has none
    if (n.cidr && n.cidr.prefixLen > 30) problems.push(`node ${n.name}: podCIDR ${n.cidr.text} is too small (a node needs a /30 or larger: network, gateway, one pod, broadcast)`);
    if (n.cidr && serviceCIDR && overlaps(n.cidr, serviceCIDR)) problems.push(`node ${n.name}: podCIDR ${n.cidr.text} overlaps cluster.serviceCIDR ${serviceCIDR.text}`);
  }
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      const x = nodes[a].cidr, y = nodes[b].cidr;
      if (x && y && overlaps(x, y)) problems.push(`nodes ${nodes[a].name} and ${nodes[b].name}: podCIDRs ${x.text} and ${y.text} overlap`);
    }
  }
}

/** The underlay kind (bridge by default when a kernel node is present), its room for the nodes, and given node addresses on it. */
function checkUnderlay(nodes: CheckedNode[], c: ClusterInput, problems: string[]): UnderlayKind | undefined {
  // a kernel node is real Linux devices: it can only meet the others on a real L2 segment
  const kernel = nodes.filter((n) => n.dataplane === 'kernel');
  const underlay = (c.underlay ?? (kernel.length ? 'bridge' : 'in-process')) as UnderlayKind;
  const { underlayCIDR } = c;
  if (!UNDERLAYS.includes(underlay)) {
    problems.push(`cluster.underlay: unknown underlay "${underlay}" (expected one of ${UNDERLAYS.join(', ')})`);
    return undefined;
  }
  if (kernel.length && underlay !== 'bridge') {
    problems.push(`cluster.underlay: "${underlay}" cannot carry kernel nodes (${kernel.map((n) => n.name).join(', ')}): use "bridge"`);
  }
  if (underlayCIDR && nodes.length > podCapacity(underlayCIDR) + 1) {
    problems.push(`cluster.underlayCIDR ${underlayCIDR.text} has room for ${podCapacity(underlayCIDR) + 1} nodes, ${nodes.length} asked for`);
  }
  if (underlay === 'bridge' && underlayCIDR) {
    // one bridge, one subnet: a node given an address elsewhere could reach nobody on it
    for (const n of nodes) {
      if (n.address && !containsAddress(underlayCIDR, n.address)) {
        problems.push(`node ${n.name}: address ${n.address} is outside cluster.underlayCIDR ${underlayCIDR.text} (the bridge underlay's subnet)`);
      }
    }
  }
  return underlay;
}

/** nodes[].address: a host's unicast IPv4 address, outside the pods' and Services' ranges. */
function hostAddress(v: unknown, node: string, clusterCIDR: Cidr | undefined, serviceCIDR: Cidr | undefined, problems: string[]): string | undefined {
  let n: number;
  try {
    if (typeof v !== 'string') throw new Error();
    n = ipv4ToInt(v);
  } catch {
    problems.push(`node ${node}: address ${JSON.stringify(v)} is not an IPv4 address like 192.0.2.10`);
    return undefined;
  }
  const ip = v as string;
  const first = n >>> 24;
  if (first === 0 || first >= 224) {
    problems.push(`node ${node}: address ${ip} cannot be a host's address (0.0.0.0/8, multicast and reserved ranges are not)`);
    return undefined;
  }
  for (const [what, c] of [['clusterCIDR', clusterCIDR], ['serviceCIDR', serviceCIDR]] as const) {
    if (c && containsAddress(c, ip)) {
      problems.push(`node ${node}: address ${ip} is inside cluster.${what} ${c.text}`);
      return undefined;
    }
  }
  return ip;
}
