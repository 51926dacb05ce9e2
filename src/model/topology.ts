// The topology file: what a user writes (YAML), checked before anything is
// created on the host, and resolved into a plan with every address decided.
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseCidr, overlaps, inside, freeSubnets, nthAddress, podCapacity, type Cidr } from './cidr.ts';
import { macForIp } from './addr.ts';

export const NS_PREFIX = 'pw-';
export const OVERLAYS = ['vxlan', 'ipip', 'host-gw'] as const;
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
  /** the node's address and MAC on the underlay (flannel's "public IP") */
  underlayIp: string;
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
}

/** Every problem found in a topology, reported together. */
export class TopologyError extends Error {
  constructor(readonly problems: string[], source = 'topology') {
    super(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TopologyError';
  }
}

// DNS-1123 label, as Kubernetes requires for pod and node names
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// netns names have no hard limit, but pod names double as interface-ish labels in output; keep k8s' 63
const MAX_NAME = 63;

const CLUSTER_KEYS = ['name', 'clusterCIDR', 'serviceCIDR', 'nodeCIDRMaskSize', 'overlay', 'vxlan', 'underlay', 'underlayCIDR', 'mtu', 'offloads', 'macAgingSeconds'];
const VXLAN_KEYS = ['vni', 'port'];
const NODE_KEYS = ['name', 'podCIDR', 'pods', 'dataplane'];
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

  if (!Array.isArray(top.nodes) || top.nodes.length === 0) {
    problems.push('nodes: expected a list with at least one node');
    fail();
  }
  const rawNodes = top.nodes as unknown[];
  const nodeNames = new Map<string, number>();
  const podNames = new Map<string, string>();
  type Pending = { name: string; dataplane: DataplaneKind; cidr?: Cidr; pods: { name: string; labels: Record<string, string> }[] };
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
    pending.push({ name: nodeName, dataplane: DATAPLANES.includes(dataplane) ? dataplane : 'podwire', cidr, pods });
  });

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

  const podMtu = mtu - OVERLAY_OVERHEAD[overlay];
  const nodes: NodePlan[] = pending.map((n, i) => {
    const cidr = n.cidr!;
    const gateway = nthAddress(cidr, 1);
    const underlayIp = nthAddress(underlayCIDR!, i + 1);
    return {
      name: n.name,
      dataplane: n.dataplane,
      podCIDR: cidr.text,
      gateway,
      gatewayMac: macForIp(gateway),
      underlayIp,
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
  return {
    name, clusterCIDR: clusterCIDR!.text, serviceCIDR: serviceCIDR!.text, overlay, vxlan, underlay,
    underlayCIDR: underlayCIDR!.text, mtu, podMtu, offloads, macAgingSeconds, nodes,
  };
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
