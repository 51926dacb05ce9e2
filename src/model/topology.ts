// The topology file: what a user writes (YAML), checked before anything is
// created on the host, and resolved into a plan with every address decided.
// planTopology runs the passes in order, each in its own file:
//   topology-parse.ts      shape: known keys, field types and ranges (namespaces.ts,
//                          pod-ports.ts read the namespaces list and pods' ports)
//   topology-validate.ts   across fields: names, uniqueness, overlapping ranges
//   topology-addresses.ts  pod CIDRs, gateways, pod and underlay addresses, MACs
//   services.ts            ClusterIPs, nodePorts, endpoints
//   dns.ts                 the cluster DNS pod and Service
//   namespaces.ts          the Kubernetes namespaces: listed, then those only named
//   network-policy.ts      `networkPolicies:` read in pass 1 (compiled per node by network-policy-compile.ts)
// Each pass records problems; planTopology stops where a pass leaves any.
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { TopologyError } from './errors.ts';
import { allocateServices, checkServiceCapacity, dnsServiceIP } from './services.ts';
import { planClusterDns, clusterDnsService, DNS_NAMESPACE } from './dns.ts';
import { isValidName, MAX_NAME, OVERLAY_OVERHEAD, type LabPlan, type NodePlan, type PodPlan } from './topology-types.ts';
import { parseTopology } from './topology-parse.ts';
import { validateTopology } from './topology-validate.ts';
import { allocateAddresses } from './topology-addresses.ts';
import { allNamespaces } from './namespaces.ts';
import { containsAddress } from './cidr.ts';
import { planExternalHosts } from './external-hosts.ts';
import { assignLoadBalancerAddresses } from './load-balancer.ts';
import { planIngress, INGRESS_NAMESPACE } from './ingress-pod.ts';

export * from './topology-types.ts';
// Lives in its own file so services.ts can throw it without importing topology.ts back.
export { TopologyError } from './errors.ts';

/** The lab `podwire up` builds when given no file. */
export const DEFAULT_TOPOLOGY = {
  cluster: { clusterCIDR: '10.244.0.0/16' },
  nodes: [{ name: 'n1', pods: ['a1', 'a2', 'a3'] }],
};

export function loadTopologyFile(path: string): LabPlan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read topology file ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${path}: not valid YAML: ${(e as Error).message}`);
  }
  return planTopology(doc, path);
}

/** Validate a parsed topology and decide every address. Throws TopologyError listing all problems. */
export function planTopology(doc: unknown, source = 'topology'): LabPlan {
  const problems: string[] = [];
  const fail = (): never => { throw new TopologyError(problems, source); };
  const input = parseTopology(doc, problems);
  if (!input) return fail();
  const t = validateTopology(input, problems);
  if (problems.length) fail();
  const nodes = allocateAddresses(t, problems);
  if (!nodes) return fail();

  const c = t.cluster;
  const pool = c.loadBalancerPool;
  for (const n of nodes) {
    if (pool && containsAddress(pool, n.underlayIp)) problems.push(`cluster.loadBalancerPool ${pool.text} holds node ${n.name}'s underlay address ${n.underlayIp}`);
  }
  const external = planExternalHosts(t.external, c.underlayCIDR!, nodes.map((n) => n.underlayIp), pool, nodes.flatMap((n) => n.pods.map((p) => p.namespace)), problems);
  if (problems.length) fail();
  const podMtu = c.mtu - OVERLAY_OVERHEAD[c.overlay];
  const userServices = allocateServices(t.services, { serviceCIDR: c.serviceCIDR!.text, nodes }, problems);
  const dnsIP = dnsServiceIP(c.serviceCIDR!);
  // the cluster DNS pod and Service come after every user pod and Service: their addresses do not depend on it
  const dns = c.dns ? planClusterDns(dnsIP, nodes, podMtu, c.dnsUpstream) : undefined;
  // the Ingress controller pod after the DNS pod, its Service after the user's (ingress-pod.ts)
  const ing = problems.length ? {} : planIngress(doc, nodes, dns, podMtu, c.serviceCIDR!.text, userServices, problems);
  const pooled = { loadBalancerPool: pool?.text, underlayCIDR: c.underlayCIDR!.text };
  const services = assignLoadBalancerAddresses([...userServices, ...(ing.service ? [ing.service] : []), ...(dns ? [clusterDnsService(dns)] : [])], [], pooled, problems);
  if (!problems.length) checkServiceCapacity(services, c.serviceCapacity, c.serviceMaxBackends, problems);
  if (problems.length) fail();
  const used = [...nodes.flatMap((n) => n.pods.map((p) => p.k8sNamespace)), ...services.map((s) => s.namespace), ...t.networkPolicies.map((p) => p.namespace), ...(dns ? [DNS_NAMESPACE] : []), ...(ing.ingress ? [INGRESS_NAMESPACE] : [])];
  const namespaces = allNamespaces(t.namespaces, used);
  return {
    name: c.name, clusterCIDR: c.clusterCIDR!.text, serviceCIDR: c.serviceCIDR!.text, overlay: c.overlay, vxlan: c.vxlan,
    underlay: c.underlay, underlayCIDR: c.underlayCIDR!.text, mtu: c.mtu, podMtu, offloads: c.offloads,
    macAgingSeconds: c.macAgingSeconds, namespaces, nodes, services, networkPolicies: t.networkPolicies, dnsIP, ...(dns ? { dns } : {}),
    ...(ing.ingress ? { ingress: ing.ingress, ingressObjects: ing.objects } : {}),
    serviceCapacity: c.serviceCapacity, serviceMaxBackends: c.serviceMaxBackends, serviceScheduler: c.serviceScheduler,
    policyCapacity: c.policyCapacity,
    ...(pool ? { loadBalancerPool: pool.text } : {}), ...(external.length ? { external } : {}),
    ...(t.links.length ? { links: t.links.map((l) => ({ between: l.between, ...(l.netem ? { netem: { ...l.netem } } : {}) })) } : {}),
  };
}

/**
 * `podwire up --node NAME`: run only node NAME here; the other nodes run on
 * other hosts and are reached at their nodes[].address over the hosts' own
 * network (VXLAN over UDP, or IP-in-IP). Returns the plan with `hostNode`
 * set; throws a TopologyError listing every reason it cannot be done.
 */
export function selectHostNode(plan: LabPlan, node: string): LabPlan {
  const problems: string[] = [];
  const headline = `cannot run --node ${node}`;
  if (!plan.nodes.some((n) => n.name === node)) {
    problems.push(`no node "${node}" in the topology (nodes: ${plan.nodes.map((n) => n.name).join(', ')})`);
    throw new TopologyError(problems, '--node', headline);
  }
  const kernel = plan.nodes.filter((n) => n.dataplane === 'kernel');
  for (const k of kernel) problems.push(`node ${k.name} is a kernel node: kernel nodes need the single-host bridge underlay, they cannot run across hosts`);
  if (plan.overlay === 'host-gw') problems.push("cluster.overlay host-gw: host-gw across hosts needs the hosts' own routing: use vxlan or ipip");
  if (plan.underlay === 'bridge' && kernel.length === 0) {
    problems.push('cluster.underlay "bridge" is a bridge inside one host: across hosts the underlay is the hosts\' own network (leave cluster.underlay out)');
  }
  for (const l of plan.links ?? []) if (l.netem) problems.push(`the impaired link between ${l.between.join(' and ')} is on the in-process underlay: across hosts it is the hosts' own network (leave links[].netem out)`);
  if (plan.external?.length) problems.push(`external hosts (${plan.external.map((h) => h.name).join(', ')}) sit on the single-host bridge underlay: they cannot be run across hosts`);
  for (const n of plan.nodes) {
    if (!n.address) problems.push(`node ${n.name} has no address: across hosts every node needs nodes[].address, the IPv4 address its host is reached at`);
  }
  const id = `${plan.name}-${node}`;
  if (!isValidName(id)) problems.push(`the lab's name on this host, "${id}" (cluster name-node), is longer than ${MAX_NAME} characters`);
  if (problems.length) throw new TopologyError(problems, '--node', headline);
  return { ...plan, hostNode: node };
}

/** The name a running lab goes by on this host (state file, control socket): `<lab>-<node>` with --node. */
export function labId(plan: LabPlan): string {
  return plan.hostNode ? `${plan.name}-${plan.hostNode}` : plan.name;
}

/** The nodes this process runs: all of them, or the --node one. */
export function localNodes(plan: LabPlan): NodePlan[] {
  return plan.hostNode ? plan.nodes.filter((n) => n.name === plan.hostNode) : plan.nodes;
}

/** Whether the nodes have an underlay port: more than one node, or hosts outside the cluster to meet. */
export function hasUnderlay(plan: Pick<LabPlan, 'nodes' | 'external'>): boolean {
  return plan.nodes.length > 1 || (plan.external?.length ?? 0) > 0;
}

/**
 * A node's data-plane ports: one per pod it may hold (nodes[].maxPods, so a
 * runtime's pods attach to free ones later; more when the lab's DNS/Ingress
 * pods come on top), at least 8; the last of them is the underlay port.
 */
export function nodePortCount(n: Pick<NodePlan, 'pods' | 'maxPods'>): number {
  return Math.max(8, n.pods.length + 1, (n.maxPods ?? 0) + 1);
}

export function allPods(plan: LabPlan): PodPlan[] {
  return plan.nodes.flatMap((n) => n.pods);
}

