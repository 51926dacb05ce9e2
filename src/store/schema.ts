// The shared store's layout (docs/multi-host.md, "Shared store (etcd)"): one prefix per
// lab, /podwire/<lab>/, holding
//   schema                   the layout's version (SCHEMA_VERSION)
//   config                   the cluster: CIDRs, overlay, VXLAN VNI/port, and the topology as given
//   leases/nodes/<node>      a node's lease (NodeLease), bound to an etcd lease with a TTL its podwire renews
//   subnets/<net>-<len>      a pod CIDR's holder (the node's name), bound to the same etcd lease
//   services/<ns>/<name>     a Service applied through the store (StoredService)
//   policies/<ns>/<name>     a NetworkPolicy applied through the store (StoredPolicy: the Kubernetes spec)
//   pods/<ns>/<name>         a running pod (StoredPod: node, IP, labels), bound to its node's etcd lease
// Values are JSON. Decoding checks every field and names the key and field
// at fault: a store another program wrote must not crash a host.
import type { ServiceSpec } from '../model/services.ts';
import { readNetworkPolicySpec, isPolicyName, type NetworkPolicySpec } from '../model/network-policy.ts';
import { networkPolicyManifestSpec } from '../model/network-policy-manifest.ts';

/**
 * Bump when a key or value changes shape or meaning; a store of another
 * version is refused, both versions named. 2: a node the topology leaves
 * without a podCIDR leases its range (version 1 hosts would plan it from
 * the file, elsewhere); pods/ and policies/ added.
 */
export const SCHEMA_VERSION = 2;
export const ROOT_PREFIX = '/podwire/';

export const keys = {
  lab: (lab: string) => `${ROOT_PREFIX}${lab}/`,
  schema: (lab: string) => `${ROOT_PREFIX}${lab}/schema`,
  config: (lab: string) => `${ROOT_PREFIX}${lab}/config`,
  nodes: (lab: string) => `${ROOT_PREFIX}${lab}/leases/nodes/`,
  node: (lab: string, node: string) => `${ROOT_PREFIX}${lab}/leases/nodes/${node}`,
  subnets: (lab: string) => `${ROOT_PREFIX}${lab}/subnets/`,
  /** "10.244.1.0/24" -> ".../subnets/10.244.1.0-24" (as flannel names its subnet keys) */
  subnet: (lab: string, cidr: string) => `${ROOT_PREFIX}${lab}/subnets/${cidr.replace('/', '-')}`,
  services: (lab: string) => `${ROOT_PREFIX}${lab}/services/`,
  service: (lab: string, namespace: string, name: string) => `${ROOT_PREFIX}${lab}/services/${namespace}/${name}`,
  policies: (lab: string) => `${ROOT_PREFIX}${lab}/policies/`,
  policy: (lab: string, namespace: string, name: string) => `${ROOT_PREFIX}${lab}/policies/${namespace}/${name}`,
  pods: (lab: string) => `${ROOT_PREFIX}${lab}/pods/`,
  pod: (lab: string, namespace: string, name: string) => `${ROOT_PREFIX}${lab}/pods/${namespace}/${name}`,
};

/** The cluster as the first host wrote it: what a joining host plans from. */
export interface ClusterConfig {
  clusterCIDR: string;
  overlay: string;
  vxlan: { vni: number; port: number };
  /** the topology document (YAML parsed to JSON) as given to the first `up` */
  topology: unknown;
  /** the file it came from, for messages */
  source: string;
}

/** One node's lease: what the other hosts program to reach it (flannel's subnet lease). */
export interface NodeLease {
  node: string;
  podCIDR: string;
  /** the node's address on the underlay, where VXLAN / IP-in-IP reaches it */
  underlayIp: string;
  vtepMac: string;
  /** the host's name, for status */
  host: string;
  /** when this podwire took the lease (ISO time) */
  since: string;
  /** this podwire process (random per start): it may take its own lease back after etcd lost it */
  instance: string;
}

/** A Service applied through the store: the spec with its ClusterIP and nodePorts decided, so every host programs the same. */
export interface StoredService {
  spec: ServiceSpec;
  /** where it came from ("services.yaml document 2 (Service api)"), for messages */
  origin: string;
}

type Check = (v: unknown) => boolean;
const isStr: Check = (v) => typeof v === 'string' && v.length > 0;
const isPort: Check = (v) => Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536;
const isIpv4: Check = (v) => typeof v === 'string' && /^(\d{1,3})(\.\d{1,3}){3}$/.test(v) && v.split('.').every((o) => Number(o) < 256);
const isCidr: Check = (v) => typeof v === 'string' && /^[\d.]+\/\d{1,2}$/.test(v) && isIpv4(v.split('/')[0]) && Number(v.split('/')[1]) <= 32;
const isMac: Check = (v) => typeof v === 'string' && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v);

/** Parse a stored JSON object; throws naming the key (and the field) at fault. */
function decodeObject(key: string, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`store key ${key}: not JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`store key ${key}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function require(key: string, o: Record<string, unknown>, fields: Record<string, [Check, string]>): void {
  const bad = Object.entries(fields).filter(([f, [ok]]) => !ok(o[f])).map(([f, [, what]]) => `${f} (${what}, got ${JSON.stringify(o[f]) ?? 'nothing'})`);
  if (bad.length) throw new Error(`store key ${key}: bad field(s) ${bad.join(', ')}`);
}

export function encodeSchema(): string {
  return String(SCHEMA_VERSION);
}

/** The version a store holds; throws unless it is ours, naming both. */
export function checkSchema(key: string, text: string): void {
  const v = Number(text);
  if (!/^\d+$/.test(text.trim())) throw new Error(`store key ${key}: schema version "${text}" is not a number (this podwire writes schema ${SCHEMA_VERSION})`);
  if (v !== SCHEMA_VERSION) {
    throw new Error(`store key ${key}: the store holds schema version ${v}, this podwire reads and writes version ${SCHEMA_VERSION}: refused (use a podwire of the same version, or another lab name)`);
  }
}

export function encodeConfig(c: ClusterConfig): string {
  return JSON.stringify(c);
}

export function decodeConfig(key: string, text: string): ClusterConfig {
  const o = decodeObject(key, text);
  require(key, o, { clusterCIDR: [isCidr, 'a CIDR'], overlay: [isStr, 'a name'], source: [isStr, 'a file name'] });
  const vx = o.vxlan as Record<string, unknown> | undefined;
  if (typeof vx !== 'object' || vx === null || !Number.isInteger(vx.vni) || !isPort(vx.port)) {
    throw new Error(`store key ${key}: bad field vxlan (expected { vni, port }, got ${JSON.stringify(vx) ?? 'nothing'})`);
  }
  if (typeof o.topology !== 'object' || o.topology === null) throw new Error(`store key ${key}: bad field topology (expected the topology document, got ${JSON.stringify(o.topology) ?? 'nothing'})`);
  return o as unknown as ClusterConfig;
}

export function encodeNodeLease(l: NodeLease): string {
  return JSON.stringify(l);
}

export function decodeNodeLease(key: string, text: string): NodeLease {
  const o = decodeObject(key, text);
  require(key, o, {
    node: [isStr, 'a node name'], podCIDR: [isCidr, 'a CIDR'], underlayIp: [isIpv4, 'an IPv4 address'],
    vtepMac: [isMac, 'a MAC address'], host: [isStr, 'a host name'], since: [isStr, 'a time'], instance: [isStr, 'an id'],
  });
  if (!key.endsWith(`/${o.node as string}`)) throw new Error(`store key ${key}: field node "${o.node as string}" is not the key's node`);
  return o as unknown as NodeLease;
}

export function encodeService(s: StoredService): string {
  return JSON.stringify(s);
}

export function decodeService(key: string, text: string): StoredService {
  const o = decodeObject(key, text);
  const spec = o.spec as Record<string, unknown> | undefined;
  if (typeof spec !== 'object' || spec === null || !isStr(spec.name) || !isStr(spec.namespace) || !Array.isArray(spec.ports)) {
    throw new Error(`store key ${key}: bad field spec (expected a Service spec with name, namespace and ports)`);
  }
  if (!key.endsWith(`/${spec.namespace as string}/${spec.name as string}`)) throw new Error(`store key ${key}: field spec names ${spec.namespace as string}/${spec.name as string}, not the key's Service`);
  if (!isStr(o.origin)) throw new Error(`store key ${key}: bad field origin (expected where the Service came from)`);
  return o as unknown as StoredService;
}

/** A NetworkPolicy applied through the store: kept as Kubernetes writes it (spec as in a manifest), read back through the same validation as a file. */
export interface StoredPolicy {
  policy: NetworkPolicySpec;
  /** where it came from ("netpol.yaml document 1 (NetworkPolicy deny)"), for messages */
  origin: string;
}

export function encodePolicy(s: StoredPolicy): string {
  return JSON.stringify({ name: s.policy.name, namespace: s.policy.namespace, spec: networkPolicyManifestSpec(s.policy), origin: s.origin });
}

export function decodePolicy(key: string, text: string): StoredPolicy {
  const o = decodeObject(key, text);
  require(key, o, { name: [(v) => typeof v === 'string' && isPolicyName(v), 'a NetworkPolicy name'], namespace: [isStr, 'a namespace'], origin: [isStr, 'where it came from'] });
  if (!key.endsWith(`/${o.namespace as string}/${o.name as string}`)) throw new Error(`store key ${key}: fields namespace/name say ${o.namespace as string}/${o.name as string}, not the key's NetworkPolicy`);
  const problems: string[] = [];
  const spec = readNetworkPolicySpec(o.spec, 'spec', problems);
  if (!spec || problems.length) throw new Error(`store key ${key}: bad field ${problems.join('; ')}`);
  return { policy: { name: o.name as string, namespace: o.namespace as string, ...spec }, origin: o.origin as string };
}

/** A pod as its node's podwire announces it: what other hosts (and `status --store`) know of pods they do not run. */
export interface StoredPod {
  name: string;
  namespace: string;
  node: string;
  ip: string;
  labels: Record<string, string>;
}

export function encodePod(p: StoredPod): string {
  return JSON.stringify(p);
}

export function decodePod(key: string, text: string): StoredPod {
  const o = decodeObject(key, text);
  const isLabels: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
  require(key, o, { name: [isStr, 'a pod name'], namespace: [isStr, 'a namespace'], node: [isStr, 'a node name'], ip: [isIpv4, 'an IPv4 address'], labels: [isLabels, 'a mapping of label names to values'] });
  if (!key.endsWith(`/${o.namespace as string}/${o.name as string}`)) throw new Error(`store key ${key}: fields namespace/name say ${o.namespace as string}/${o.name as string}, not the key's pod`);
  return o as unknown as StoredPod;
}
