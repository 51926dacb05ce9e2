// The topology file: what a user writes (YAML), checked before anything is
// created on the host, and resolved into a plan with every address decided.
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseCidr, overlaps, inside, freeSubnets, nthAddress, podCapacity, containsAddress, type Cidr } from './cidr.ts';
import { macForIp, ipv4ToInt } from './addr.ts';
import { TopologyError } from './errors.ts';
import { parseServiceList, allocateServices, dnsServiceIP, DNS_OFFSET, type ServicePlan } from './services.ts';
import { checkServiceCapacity, DEFAULT_SERVICE_CAPACITY, DEFAULT_SERVICE_MAX_BACKENDS } from './services.ts';
import { clusterDnsNameProblems, planClusterDns, clusterDnsService, type DnsPlan } from './dns.ts';

export const NS_PREFIX = 'pw-';
export const OVERLAYS = ['vxlan', 'ipip', 'host-gw'] as const;
export const SERVICE_SCHEDULERS = ['random', 'maglev'] as const;
export type ServiceScheduler = (typeof SERVICE_SCHEDULERS)[number];
export const DATAPLANES = ['podwire', 'kernel'] as const;
export type DataplaneKind = (typeof DATAPLANES)[number];
/** in-process: podwire nodes hand frames to each other in memory; bridge: a pw- namespace with a Linux bridge, a real L2 segment */
export const UNDERLAYS = ['in-process', 'bridge'] as const;
export type UnderlayKind = (typeof UNDERLAYS)[number];
export type Overlay = (typeof OVERLAYS)[number];
/** Bytes each overlay adds around a pod's packet on the underlay: pod MTU = mtu - this. */
export const OVERLAY_OVERHEAD: Record<Overlay, number> = { vxlan: 50, ipip: 20, 'host-gw': 0 };
/** The largest MTU the kernel lets a TAP device have (65535 - Ethernet header). */
export const MAX_TAP_MTU = 65521;

export interface PodPlan {
  name: string;
  labels: Record<string, string>;
  /** the network namespace: pw-<name> */
  namespace: string;
  node: string;
  ip: string;
  prefixLen: number;
  mac: string;
  gateway: string;
  mtu: number;
  /** bridge port number on its node */
  port: number;
}

export interface NodePlan {
  name: string;
  /** podwire: forwarded in WebAssembly; kernel: built from Linux bridge/veth/vxlan, as flannel does */
  dataplane: DataplaneKind;
  podCIDR: string;
  gateway: string;
  gatewayMac: string;
  /**
   * the node's address and MAC on the underlay (flannel's "public IP"):
   * `address` when the topology gives one, else the next of cluster.underlayCIDR
   */
  underlayIp: string;
  /** nodes[].address: the real address of the host the node runs on (needed by `podwire up --node`) */
  address?: string;
  underlayMac: string;
  /** the node's VXLAN device MAC (flannel.1) */
  vtepMac: string;
  pods: PodPlan[];
}

export interface LabPlan {
  name: string;
  clusterCIDR: string;
  serviceCIDR: string;
  overlay: Overlay;
  vxlan: { vni: number; port: number };
  underlay: UnderlayKind;
  underlayCIDR: string;
  /** underlay MTU */
  mtu: number;
  podMtu: number;
  /** TSO/checksum offloads on the pods' TAPs (vnet header GSO) */
  offloads: boolean;
  macAgingSeconds: number;
  nodes: NodePlan[];
  /** the topology's `services:`, with ClusterIPs, nodePorts and endpoints decided */
  services: ServicePlan[];
  /** the cluster DNS Service address: the 10th address of serviceCIDR (10.96.0.10) */
  dnsIP: string;
  /** the cluster DNS pod (src/model/dns.ts); absent with cluster.dns: false or without a podwire node */
  dns?: DnsPlan;
  /** each podwire node's Service tables, fixed at up (what `podwire apply` can grow to): frontends, and backends per frontend (services.ts DEFAULT_SERVICE_*) */
  serviceCapacity?: number;
  serviceMaxBackends?: number;
  /** how new flows choose a Service backend on podwire nodes: seeded random (kube-proxy's iptables/nftables modes) or Maglev (IPVS's "mh") */
  serviceScheduler?: ServiceScheduler;
  /**
   * `podwire up --node NAME` (selectHostNode): this process runs only that
   * node; the others run on other hosts, reached over the hosts' network
   */
  hostNode?: string;
}

// Lives in its own file so services.ts can throw it without importing topology.ts back.
export { TopologyError } from './errors.ts';

// DNS-1123 label, as Kubernetes requires for pod and node names
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// netns names have no hard limit, but pod names double as interface-ish labels in output; keep k8s' 63
const MAX_NAME = 63;

const CLUSTER_KEYS = ['name', 'clusterCIDR', 'serviceCIDR', 'nodeCIDRMaskSize', 'overlay', 'vxlan', 'underlay', 'underlayCIDR', 'mtu', 'offloads', 'macAgingSeconds', 'serviceCapacity', 'serviceMaxBackends', 'serviceScheduler', 'dns'];
const VXLAN_KEYS = ['vni', 'port'];
const NODE_KEYS = ['name', 'podCIDR', 'pods', 'dataplane', 'address'];
const POD_KEYS = ['name', 'labels'];

/** The lab `podwire up` builds when given no file. */
export const DEFAULT_TOPOLOGY = {
  cluster: { clusterCIDR: '10.244.0.0/16' },
  nodes: [{ name: 'n1', pods: ['a1', 'a2', 'a3'] }],
};

/** Lab, node and pod names are DNS-1123 labels (lab names also name files under the state dir). */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= MAX_NAME;
}

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
  if (!isObject(doc)) { problems.push('expected a mapping with "cluster" and "nodes"'); fail(); }
  const top = doc as Record<string, unknown>;
  unknownKeys(top, ['cluster', 'nodes', 'services'], '', problems);
  const cluster = isObject(top.cluster) ? top.cluster : {};
  if (top.cluster !== undefined && !isObject(top.cluster)) problems.push('cluster: expected a mapping');
  unknownKeys(cluster, CLUSTER_KEYS, 'cluster.', problems);

  const name = str(cluster.name, 'default');
  if (!NAME_RE.test(name)) problems.push(`cluster.name: "${name}" must be lowercase letters, digits and "-"`);
  const clusterCIDR = tryCidr(cluster.clusterCIDR ?? '10.244.0.0/16', 'cluster.clusterCIDR', problems);
  const serviceCIDR = tryCidr(cluster.serviceCIDR ?? '10.96.0.0/12', 'cluster.serviceCIDR', problems);
  if (clusterCIDR && serviceCIDR && overlaps(clusterCIDR, serviceCIDR)) {
    problems.push(`cluster.serviceCIDR ${serviceCIDR.text} overlaps cluster.clusterCIDR ${clusterCIDR.text}`);
  }
  if (serviceCIDR && serviceCIDR.prefixLen > 28) {
    problems.push(`cluster.serviceCIDR ${serviceCIDR.text} is too small: the cluster DNS address is its ${DNS_OFFSET}th address (use a /28 or larger)`);
  }
  const maskSize = int(cluster.nodeCIDRMaskSize, 24, 'cluster.nodeCIDRMaskSize', problems, 1, 30);
  if (clusterCIDR && maskSize < clusterCIDR.prefixLen) {
    problems.push(`cluster.nodeCIDRMaskSize /${maskSize} is larger than cluster.clusterCIDR ${clusterCIDR.text}`);
  }
  const overlay = str(cluster.overlay, 'vxlan') as Overlay;
  if (!OVERLAYS.includes(overlay)) problems.push(`cluster.overlay: unknown overlay "${overlay}" (expected one of ${OVERLAYS.join(', ')})`);
  const mtu = int(cluster.mtu, 1500, 'cluster.mtu', problems, 576, 65535);
  if (OVERLAYS.includes(overlay) && mtu - OVERLAY_OVERHEAD[overlay] > MAX_TAP_MTU) {
    problems.push(`cluster.mtu: ${mtu} gives pods an MTU of ${mtu - OVERLAY_OVERHEAD[overlay]}, above the ${MAX_TAP_MTU} a TAP device allows`);
  }
  const vx = isObject(cluster.vxlan) ? cluster.vxlan : {};
  if (cluster.vxlan !== undefined && !isObject(cluster.vxlan)) problems.push('cluster.vxlan: expected a mapping like { vni: 1, port: 8472 }');
  unknownKeys(vx, VXLAN_KEYS, 'cluster.vxlan.', problems);
  const vxlan = {
    vni: int(vx.vni, 1, 'cluster.vxlan.vni', problems, 0, 0xffffff),
    port: int(vx.port, 8472, 'cluster.vxlan.port', problems, 1, 65535),
  };
  // the nodes' own network: in-process by default, so it never meets the host's; it must not meet the pods' either
  const underlayCIDR = tryCidr(cluster.underlayCIDR ?? '172.31.255.0/24', 'cluster.underlayCIDR', problems);
  for (const [what, c] of [['clusterCIDR', clusterCIDR], ['serviceCIDR', serviceCIDR]] as const) {
    if (underlayCIDR && c && overlaps(underlayCIDR, c)) problems.push(`cluster.underlayCIDR ${underlayCIDR.text} overlaps cluster.${what} ${c.text}`);
  }
  const offloads = bool(cluster.offloads, true, 'cluster.offloads', problems);
  const macAgingSeconds = int(cluster.macAgingSeconds, 300, 'cluster.macAgingSeconds', problems, 1, 1_000_000);
  const dnsOn = bool(cluster.dns, true, 'cluster.dns', problems);
  const serviceCapacity = int(cluster.serviceCapacity, DEFAULT_SERVICE_CAPACITY, 'cluster.serviceCapacity', problems, 1, 1 << 20);
  const serviceMaxBackends = int(cluster.serviceMaxBackends, DEFAULT_SERVICE_MAX_BACKENDS, 'cluster.serviceMaxBackends', problems, 1, 65536);
  const serviceScheduler = (cluster.serviceScheduler ?? 'random') as ServiceScheduler;
  if (!SERVICE_SCHEDULERS.includes(serviceScheduler)) {
    problems.push(`cluster.serviceScheduler: unknown scheduler ${JSON.stringify(cluster.serviceScheduler)} (expected one of ${SERVICE_SCHEDULERS.join(', ')})`);
  }

  if (!Array.isArray(top.nodes) || top.nodes.length === 0) {
    problems.push('nodes: expected a list with at least one node');
    fail();
  }
  const rawNodes = top.nodes as unknown[];
  const nodeNames = new Map<string, number>();
  const podNames = new Map<string, string>();
  type Pending = { name: string; dataplane: DataplaneKind; cidr?: Cidr; address?: string; pods: { name: string; labels: Record<string, string> }[] };
  const pending: Pending[] = [];
  rawNodes.forEach((raw, i) => {
    const where = `nodes[${i}]`;
    if (!isObject(raw)) { problems.push(`${where}: expected a mapping with "name" and "pods"`); return; }
    unknownKeys(raw, NODE_KEYS, `${where}.`, problems);
    const nodeName = str(raw.name, '');
    if (!NAME_RE.test(nodeName) || nodeName.length > MAX_NAME) problems.push(`${where}.name: "${nodeName}" is not a valid node name (lowercase letters, digits, "-")`);
    if (nodeNames.has(nodeName)) problems.push(`duplicate node name "${nodeName}" (nodes[${nodeNames.get(nodeName)}] and ${where})`);
    nodeNames.set(nodeName, i);
    const dataplane = str(raw.dataplane, 'podwire') as DataplaneKind;
    if (!DATAPLANES.includes(dataplane)) {
      problems.push(`${where}.dataplane: unknown dataplane "${dataplane}" (expected one of ${DATAPLANES.join(', ')})`);
    } else if (dataplane === 'kernel' && overlay === 'ipip') {
      problems.push(`node ${nodeName}: dataplane kernel cannot use overlay ipip (the host kernel here has no ipip module; use vxlan or host-gw)`);
    }
    const cidr = raw.podCIDR === undefined ? undefined : tryCidr(raw.podCIDR, `node ${nodeName}: podCIDR`, problems);
    const address = raw.address === undefined ? undefined : hostAddress(raw.address, nodeName, clusterCIDR, serviceCIDR, problems);
    const pods: Pending['pods'] = [];
    const rawPods = raw.pods ?? [];
    if (!Array.isArray(rawPods)) problems.push(`node ${nodeName}: pods must be a list`);
    else rawPods.forEach((p, j) => {
      const pw = `node ${nodeName} pods[${j}]`;
      const pod = typeof p === 'string' ? { name: p, labels: {} } : isObject(p) ? p : undefined;
      if (!pod) { problems.push(`${pw}: expected a name or {name, labels}`); return; }
      if (isObject(p)) unknownKeys(p, POD_KEYS, `${pw}.`, problems);
      const podName = str(pod.name, '');
      if (!NAME_RE.test(podName) || podName.length > MAX_NAME) {
        problems.push(`${pw}: "${podName}" is not a valid pod name (lowercase letters, digits, "-", at most ${MAX_NAME})`);
      }
      const other = podNames.get(podName);
      if (other !== undefined) problems.push(`duplicate pod name "${podName}" (on nodes ${other} and ${nodeName}): pod names name namespaces (pw-<pod>) and must be unique`);
      podNames.set(podName, nodeName);
      const labels = isObject(pod.labels) ? (pod.labels as Record<string, string>) : {};
      if (pod.labels !== undefined && !isObject(pod.labels)) problems.push(`${pw}.labels: expected a mapping`);
      pods.push({ name: podName, labels });
    });
    pending.push({ name: nodeName, dataplane: DATAPLANES.includes(dataplane) ? dataplane : 'podwire', cidr, address, pods });
  });

  // Services are checked field by field now (all problems at once); addresses are allocated once pods have theirs
  const serviceSpecs = parseServiceList(top.services, problems);
  if (dnsOn) clusterDnsNameProblems(serviceSpecs, pending.map((n) => ({ node: n.name, pods: n.pods })), problems);

  // node pod CIDRs: inside the cluster CIDR, no two overlapping
  if (clusterCIDR) {
    for (const n of pending) {
      if (n.cidr && !inside(n.cidr, clusterCIDR)) problems.push(`node ${n.name}: podCIDR ${n.cidr.text} is outside cluster.clusterCIDR ${clusterCIDR.text}`);
      // the gateway is the range's first host: a /31 or /32 has none
      if (n.cidr && n.cidr.prefixLen > 30) problems.push(`node ${n.name}: podCIDR ${n.cidr.text} is too small (a node needs a /30 or larger: network, gateway, one pod, broadcast)`);
      if (n.cidr && serviceCIDR && overlaps(n.cidr, serviceCIDR)) problems.push(`node ${n.name}: podCIDR ${n.cidr.text} overlaps cluster.serviceCIDR ${serviceCIDR.text}`);
    }
    for (let a = 0; a < pending.length; a++) {
      for (let b = a + 1; b < pending.length; b++) {
        const x = pending[a].cidr, y = pending[b].cidr;
        if (x && y && overlaps(x, y)) problems.push(`nodes ${pending[a].name} and ${pending[b].name}: podCIDRs ${x.text} and ${y.text} overlap`);
      }
    }
  }
  if (problems.length) fail();

  // allocate the rest in address order, as the node IPAM controller does
  const taken = pending.flatMap((n) => (n.cidr ? [n.cidr] : []));
  const free = freeSubnets(clusterCIDR!, maskSize, taken);
  for (const n of pending) {
    if (n.cidr) continue;
    const next = free.next();
    if (next.done) { problems.push(`cluster.clusterCIDR ${clusterCIDR!.text} has no free /${maskSize} left for node ${n.name}`); continue; }
    n.cidr = next.value;
  }
  for (const n of pending) {
    if (n.cidr && n.pods.length > podCapacity(n.cidr)) {
      problems.push(`node ${n.name}: podCIDR ${n.cidr.text} holds ${podCapacity(n.cidr)} pods, ${n.pods.length} asked for`);
    }
  }
  // a kernel node is real Linux devices: it can only meet the others on a real L2 segment
  const hasKernel = pending.some((n) => n.dataplane === 'kernel');
  const underlay = str(cluster.underlay, hasKernel ? 'bridge' : 'in-process') as UnderlayKind;
  if (!UNDERLAYS.includes(underlay)) {
    problems.push(`cluster.underlay: unknown underlay "${underlay}" (expected one of ${UNDERLAYS.join(', ')})`);
  } else if (hasKernel && underlay !== 'bridge') {
    problems.push(`cluster.underlay: "${underlay}" cannot carry kernel nodes (${pending.filter((n) => n.dataplane === 'kernel').map((n) => n.name).join(', ')}): use "bridge"`);
  }
  if (underlayCIDR && rawNodes.length > podCapacity(underlayCIDR) + 1) {
    problems.push(`cluster.underlayCIDR ${underlayCIDR.text} has room for ${podCapacity(underlayCIDR) + 1} nodes, ${rawNodes.length} asked for`);
  }
  if (problems.length) fail();

  // a node's address is its underlay address; the others are numbered from the underlay range
  const underlayIps = pending.map((n, i) => n.address ?? nthAddress(underlayCIDR!, i + 1));
  if (underlay === 'bridge') {
    // one bridge, one subnet: a node given an address elsewhere could reach nobody on it
    for (const n of pending) {
      if (n.address && !containsAddress(underlayCIDR!, n.address)) {
        problems.push(`node ${n.name}: address ${n.address} is outside cluster.underlayCIDR ${underlayCIDR!.text} (the bridge underlay's subnet)`);
      }
    }
  }
  for (let a = 0; a < pending.length; a++) {
    for (let b = a + 1; b < pending.length; b++) {
      if (underlayIps[a] === underlayIps[b]) problems.push(`nodes ${pending[a].name} and ${pending[b].name} have the same underlay address ${underlayIps[a]}`);
    }
  }
  if (problems.length) fail();

  const podMtu = mtu - OVERLAY_OVERHEAD[overlay];
  const nodes: NodePlan[] = pending.map((n, i) => {
    const cidr = n.cidr!;
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
      underlayMac: macForIp(underlayIp),
      vtepMac: vtepMacFor(underlayIp),
      pods: n.pods.map((p, port) => {
        const ip = nthAddress(cidr, port + 2);
        return {
          name: p.name, labels: p.labels, namespace: NS_PREFIX + p.name, node: n.name,
          ip, prefixLen: cidr.prefixLen, mac: macForIp(ip), gateway, mtu: podMtu, port,
        };
      }),
    };
  });
  const userServices = allocateServices(serviceSpecs, { serviceCIDR: serviceCIDR!.text, nodes }, problems);
  const dnsIP = dnsServiceIP(serviceCIDR!);
  // the cluster DNS pod and Service come after every user pod and Service: their addresses do not depend on it
  const dns = dnsOn ? planClusterDns(dnsIP, nodes, podMtu) : undefined;
  const services = dns ? [...userServices, clusterDnsService(dns)] : userServices;
  if (!problems.length) checkServiceCapacity(services, serviceCapacity, serviceMaxBackends, problems);
  if (problems.length) fail();
  return {
    name, clusterCIDR: clusterCIDR!.text, serviceCIDR: serviceCIDR!.text, overlay, vxlan, underlay,
    underlayCIDR: underlayCIDR!.text, mtu, podMtu, offloads, macAgingSeconds, nodes,
    services, dnsIP, ...(dns ? { dns } : {}), serviceCapacity, serviceMaxBackends, serviceScheduler,
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

/** A node's VTEP MAC: 0e:58 and its underlay address (locally administered, distinct from its underlay MAC). */
function vtepMacFor(underlayIp: string): string {
  return '0e' + macForIp(underlayIp).slice(2);
}

export function allPods(plan: LabPlan): PodPlan[] {
  return plan.nodes.flatMap((n) => n.pods);
}

// ---- small field readers that record problems instead of throwing ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown, dflt: string): string {
  return v === undefined ? dflt : String(v);
}
function int(v: unknown, dflt: number, what: string, problems: string[], min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    problems.push(`${what}: ${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
    return dflt;
  }
  return v;
}
function bool(v: unknown, dflt: boolean, what: string, problems: string[]): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') { problems.push(`${what}: expected true or false`); return dflt; }
  return v;
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
function tryCidr(v: unknown, what: string, problems: string[]): Cidr | undefined {
  try {
    return parseCidr(v, what);
  } catch (e) {
    problems.push((e as Error).message);
    return undefined;
  }
}
function unknownKeys(obj: Record<string, unknown>, known: string[], where: string, problems: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) problems.push(`${where}${k}: unknown key (known: ${known.join(', ')})`);
  }
}
