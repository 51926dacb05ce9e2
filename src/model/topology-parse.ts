// Pass 1 of planTopology: the file's shape. Every key known, every field of
// the right type and in range; what is read is kept with its position, for
// the later passes to check across fields and to number. Nothing here looks
// at two fields at once (topology-validate.ts does).
import type { Cidr } from './cidr.ts';
import { DEFAULT_POLICY_CAPACITY } from './network-policy.ts';
import { parseServiceList, DEFAULT_SERVICE_CAPACITY, DEFAULT_SERVICE_MAX_BACKENDS, type ServiceSpec } from './services.ts';
import { DATAPLANES, OVERLAYS, SERVICE_SCHEDULERS, type DataplaneKind, type Overlay, type ServiceScheduler } from './topology-types.ts';
import { isObject, str, int, bool, tryCidr, unknownKeys } from './fields.ts';
import { parseNamespaceList, DEFAULT_NAMESPACE, type NamespacePlan } from './namespaces.ts';
import { parseContainerPorts, type ContainerPort } from './pod-ports.ts';
import { parseExternalList, type ExternalInput } from './external-hosts.ts';
import { INGRESS_CLUSTER_KEYS } from './ingress-pod.ts';
import { parseNetworkPolicyList, type NetworkPolicySpec } from './network-policy.ts';
import { parseDnsInput, type DnsUpstream } from './dns.ts';
import { parseNetem, type NetemSpec } from './netem.ts';
import { parseLinkList, type LinkInput } from './links.ts';

export const TOP_KEYS = ['cluster', 'namespaces', 'nodes', 'services', 'ingresses', 'external', 'networkPolicies', 'links'];
export const CLUSTER_KEYS = ['name', 'clusterCIDR', 'serviceCIDR', 'nodeCIDRMaskSize', 'overlay', 'vxlan', 'underlay', 'underlayCIDR', 'mtu', 'offloads', 'macAgingSeconds', 'serviceCapacity', 'serviceMaxBackends', 'serviceScheduler', 'policyCapacity', 'dns', 'loadBalancerPool', ...INGRESS_CLUSTER_KEYS];
const VXLAN_KEYS = ['vni', 'port'];
const NODE_KEYS = ['name', 'podCIDR', 'pods', 'dataplane', 'address', 'maxPods'];
/** Pods a node takes (its own, the lab's DNS/Ingress pods, a runtime's): the kubelet's default maxPods. */
export const DEFAULT_MAX_PODS = 110;
const POD_KEYS = ['name', 'namespace', 'labels', 'ports', 'hostname', 'subdomain', 'netem'];

/** `cluster:` as written, defaults filled in; names not yet checked against their lists. */
export interface ClusterInput {
  name: string;
  clusterCIDR?: Cidr;
  serviceCIDR?: Cidr;
  nodeCIDRMaskSize: number;
  /** undefined when unknown (a problem recorded) */
  overlay?: Overlay;
  mtu: number;
  vxlan: { vni: number; port: number };
  underlayCIDR?: Cidr;
  /** as written, or undefined: the default depends on the nodes (topology-validate.ts) */
  underlay?: string;
  offloads: boolean;
  macAgingSeconds: number;
  dns: boolean;
  /** cluster.dns.upstream */
  dnsUpstream?: DnsUpstream;
  serviceCapacity: number;
  serviceMaxBackends: number;
  policyCapacity: number;
  serviceScheduler: ServiceScheduler;
  /** addresses for type LoadBalancer Services (load-balancer.ts) */
  loadBalancerPool?: Cidr;
}

export interface PodInput {
  name: string;
  /** the Kubernetes namespace, as written (checked by validation) */
  namespace: string;
  labels: Record<string, string>;
  ports: ContainerPort[];
  /** spec.hostname and spec.subdomain: with a headless Service named `subdomain`, DNS gives <hostname>.<subdomain>.<ns>.svc */
  hostname?: string;
  subdomain?: string;
  /** pods[].netem: the impairment of frames to the pod (netem.ts) */
  netem?: NetemSpec;
  /** "node n1 pods[0]", for messages */
  where: string;
}

export interface NodeInput {
  name: string;
  /** nodes[i], for messages */
  where: string;
  /** as written; a known dataplane after validation */
  dataplane: string;
  cidr?: Cidr;
  /** nodes[].address as written (checked by validation) */
  address?: unknown;
  /** nodes[].maxPods: the bridge ports a node has for pods, fixed at up (a runtime's pods attach to the free ones) */
  maxPods: number;
  pods: PodInput[];
}

export interface TopologyInput {
  cluster: ClusterInput;
  /** the listed namespaces (namespaces.ts) */
  namespaces: NamespacePlan[];
  nodes: NodeInput[];
  services: ServiceSpec[];
  /** hosts outside the cluster on the underlay (external-hosts.ts) */
  external: ExternalInput[];
  /** the topology's `networkPolicies:` (network-policy.ts) */
  networkPolicies: NetworkPolicySpec[];
  /** the topology's `links:` between nodes (links.ts) */
  links: LinkInput[];
}

/**
 * Read a parsed YAML document. Problems are recorded; undefined when the
 * document is too broken to go on (not a mapping, no nodes).
 */
export function parseTopology(doc: unknown, problems: string[]): TopologyInput | undefined {
  if (!isObject(doc)) { problems.push('expected a mapping with "cluster" and "nodes"'); return undefined; }
  unknownKeys(doc, TOP_KEYS, '', problems);
  const cluster = parseCluster(doc.cluster, problems);
  const namespaces = parseNamespaceList(doc.namespaces, problems);
  if (!Array.isArray(doc.nodes) || doc.nodes.length === 0) {
    problems.push('nodes: expected a list with at least one node');
    return undefined;
  }
  const nodes = doc.nodes.flatMap((raw, i) => parseNode(raw, i, problems) ?? []);
  // Services are checked field by field now (all problems at once); addresses are allocated once pods have theirs
  const services = parseServiceList(doc.services, problems);
  const external = parseExternalList(doc.external, problems);
  const networkPolicies = parseNetworkPolicyList(doc.networkPolicies, problems);
  const links = parseLinkList(doc.links, problems);
  return { cluster, namespaces, nodes, services, external, networkPolicies, links };
}

function parseCluster(raw: unknown, problems: string[]): ClusterInput {
  const cluster = isObject(raw) ? raw : {};
  if (raw !== undefined && !isObject(raw)) problems.push('cluster: expected a mapping');
  unknownKeys(cluster, CLUSTER_KEYS, 'cluster.', problems);
  const vx = isObject(cluster.vxlan) ? cluster.vxlan : {};
  if (cluster.vxlan !== undefined && !isObject(cluster.vxlan)) problems.push('cluster.vxlan: expected a mapping like { vni: 1, port: 8472 }');
  unknownKeys(vx, VXLAN_KEYS, 'cluster.vxlan.', problems);
  const overlay = str(cluster.overlay, 'vxlan') as Overlay;
  if (!OVERLAYS.includes(overlay)) problems.push(`cluster.overlay: unknown overlay "${overlay}" (expected one of ${OVERLAYS.join(', ')})`);
  const serviceScheduler = (cluster.serviceScheduler ?? 'random') as ServiceScheduler;
  if (!SERVICE_SCHEDULERS.includes(serviceScheduler)) {
    problems.push(`cluster.serviceScheduler: unknown scheduler ${JSON.stringify(cluster.serviceScheduler)} (expected one of ${SERVICE_SCHEDULERS.join(', ')})`);
  }
  const dns = parseDnsInput(cluster.dns, problems);
  return {
    name: str(cluster.name, 'default'),
    clusterCIDR: tryCidr(cluster.clusterCIDR ?? '10.244.0.0/16', 'cluster.clusterCIDR', problems),
    serviceCIDR: tryCidr(cluster.serviceCIDR ?? '10.96.0.0/12', 'cluster.serviceCIDR', problems),
    nodeCIDRMaskSize: int(cluster.nodeCIDRMaskSize, 24, 'cluster.nodeCIDRMaskSize', problems, 1, 30),
    ...(OVERLAYS.includes(overlay) ? { overlay } : {}),
    mtu: int(cluster.mtu, 1500, 'cluster.mtu', problems, 576, 65535),
    vxlan: {
      vni: int(vx.vni, 1, 'cluster.vxlan.vni', problems, 0, 0xffffff),
      port: int(vx.port, 8472, 'cluster.vxlan.port', problems, 1, 65535),
    },
    // the nodes' own network: in-process by default, so it never meets the host's
    underlayCIDR: tryCidr(cluster.underlayCIDR ?? '172.31.255.0/24', 'cluster.underlayCIDR', problems),
    underlay: cluster.underlay === undefined ? undefined : String(cluster.underlay),
    offloads: bool(cluster.offloads, true, 'cluster.offloads', problems),
    macAgingSeconds: int(cluster.macAgingSeconds, 300, 'cluster.macAgingSeconds', problems, 1, 1_000_000),
    dns: dns.on,
    ...(dns.upstream ? { dnsUpstream: dns.upstream } : {}),
    serviceCapacity: int(cluster.serviceCapacity, DEFAULT_SERVICE_CAPACITY, 'cluster.serviceCapacity', problems, 1, 1 << 20),
    serviceMaxBackends: int(cluster.serviceMaxBackends, DEFAULT_SERVICE_MAX_BACKENDS, 'cluster.serviceMaxBackends', problems, 1, 65536),
    serviceScheduler,
    // a node's NetworkPolicy tables: pod addresses it knows, and allow entries (one per local pod and admitted identity)
    policyCapacity: int(cluster.policyCapacity, DEFAULT_POLICY_CAPACITY, 'cluster.policyCapacity', problems, 64, 1 << 20),
    ...(cluster.loadBalancerPool !== undefined ? { loadBalancerPool: tryCidr(cluster.loadBalancerPool, 'cluster.loadBalancerPool', problems) } : {}),
  };
}

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function parseNode(raw: unknown, i: number, problems: string[]): NodeInput | undefined {
  const where = `nodes[${i}]`;
  if (!isObject(raw)) { problems.push(`${where}: expected a mapping with "name" and "pods"`); return undefined; }
  unknownKeys(raw, NODE_KEYS, `${where}.`, problems);
  const name = str(raw.name, '');
  const dataplane = str(raw.dataplane, 'podwire');
  if (!DATAPLANES.includes(dataplane as DataplaneKind)) {
    problems.push(`${where}.dataplane: unknown dataplane "${dataplane}" (expected one of ${DATAPLANES.join(', ')})`);
  }
  const cidr = raw.podCIDR === undefined ? undefined : tryCidr(raw.podCIDR, `node ${name}: podCIDR`, problems);
  const maxPods = int(raw.maxPods, DEFAULT_MAX_PODS, `${where}.maxPods`, problems, 1, 1024);
  const pods: PodInput[] = [];
  const rawPods = raw.pods ?? [];
  if (!Array.isArray(rawPods)) problems.push(`node ${name}: pods must be a list`);
  else rawPods.forEach((p, j) => {
    const pw = `node ${name} pods[${j}]`;
    const pod = typeof p === 'string' ? { name: p, labels: {} } : isObject(p) ? p : undefined;
    if (!pod) { problems.push(`${pw}: expected a name or {name, namespace, labels, ports}`); return; }
    if (isObject(p)) unknownKeys(p, POD_KEYS, `${pw}.`, problems);
    const labels = isObject(pod.labels) ? (pod.labels as Record<string, string>) : {};
    if (pod.labels !== undefined && !isObject(pod.labels)) problems.push(`${pw}.labels: expected a mapping`);
    const namespace = pod.namespace === undefined ? DEFAULT_NAMESPACE : pod.namespace;
    if (typeof namespace !== 'string') problems.push(`${pw}.namespace: expected a namespace name`);
    const ports = parseContainerPorts(pod.ports, pw, problems);
    // DNS-1123 labels, as the API server checks spec.hostname and spec.subdomain
    const label = (field: 'hostname' | 'subdomain'): string | undefined => {
      const v = (pod as Record<string, unknown>)[field];
      if (v === undefined) return undefined;
      if (typeof v === 'string' && DNS_LABEL_RE.test(v) && v.length <= 63) return v;
      problems.push(`${pw}.${field}: ${JSON.stringify(v)} is not a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63)`);
      return undefined;
    };
    const hostname = label('hostname');
    const subdomain = label('subdomain');
    const netem = parseNetem((pod as Record<string, unknown>).netem, `${pw}.netem`, problems);
    pods.push({ name: str(pod.name, ''), namespace: String(namespace), labels, ports, ...(hostname ? { hostname } : {}), ...(subdomain ? { subdomain } : {}), ...(netem ? { netem } : {}), where: pw });
  });
  return { name, where, dataplane, cidr, ...(raw.address !== undefined ? { address: raw.address } : {}), maxPods, pods };
}
