// networking.k8s.io/v1 NetworkPolicy in the model: read and validated as the
// API server does (the same fields, the same refusals), from the topology's
// `networkPolicies:` list or a NetworkPolicy manifest. Pure: what a policy
// selects and allows is decided in network-policy-compile.ts.
//
// Semantics kept from the Kubernetes API reference:
//  - policyTypes omitted: [Ingress], plus Egress when spec.egress has a rule.
//  - a rule's from/to omitted or empty: every peer; its ports omitted or
//    empty: every port and protocol.
//  - a peer holds ipBlock alone, or podSelector and/or namespaceSelector
//    (both together: pods matching podSelector in namespaces matching
//    namespaceSelector; podSelector alone: the policy's own namespace).
//  - ipBlock.except must lie strictly inside ipBlock.cidr; a cidr with host
//    bits set is read as its network (Go's net.ParseCIDR, which the API
//    server's validation uses, accepts "192.168.1.1/24").
//  - a port by name matches the container port of that name on the pod the
//    port is on; a name no pod declares is allowed and matches nothing.
//  - endPort needs a numeric port and endPort >= port.
import { isObject, unknownKeys } from './fields.ts';
import { ipv4ToInt, intToIpv4 } from './addr.ts';
import { isIanaSvcName } from './pod-ports.ts';
import { isNamespaceName, DEFAULT_NAMESPACE } from './namespaces.ts';

/** A podwire node's NetworkPolicy tables when cluster.policyCapacity is not given: pod addresses, and allow entries. */
export const DEFAULT_POLICY_CAPACITY = 4096;

export const POLICY_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type PolicyProtocol = (typeof POLICY_PROTOCOLS)[number];
export const POLICY_TYPES = ['Ingress', 'Egress'] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];
const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

const SPEC_KEYS = ['podSelector', 'policyTypes', 'ingress', 'egress'];
const INGRESS_RULE_KEYS = ['from', 'ports'];
const EGRESS_RULE_KEYS = ['to', 'ports'];
const PEER_KEYS = ['podSelector', 'namespaceSelector', 'ipBlock'];
const IPBLOCK_KEYS = ['cidr', 'except'];
const PORT_KEYS = ['protocol', 'port', 'endPort'];
const SELECTOR_KEYS = ['matchLabels', 'matchExpressions'];
const EXPRESSION_KEYS = ['key', 'operator', 'values'];
const TOPOLOGY_POLICY_KEYS = ['name', 'namespace', 'spec'];
// a DNS-1123 subdomain, as object names are
const POLICY_NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
// a label key: optional DNS subdomain prefix "/" then a name of 1-63
const LABEL_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export interface SelectorRequirement { key: string; operator: SelectorOperator; values: string[] }
/** A metav1.LabelSelector: all of matchLabels and every expression must hold; empty selects everything. */
export interface LabelSelector { matchLabels: Record<string, string>; matchExpressions: SelectorRequirement[] }

/** An IPv4 block as two integers: network address and prefix length. */
export interface IpBlockRange { net: number; prefixLen: number }
export interface IpBlock { cidr: IpBlockRange; except: IpBlockRange[] }

export type PolicyPeer =
  | { kind: 'ipBlock'; ipBlock: IpBlock }
  /** namespaceSelector undefined: the policy's own namespace */
  | { kind: 'pods'; podSelector?: LabelSelector; namespaceSelector?: LabelSelector };

export interface PolicyPort {
  protocol: PolicyProtocol;
  /** undefined: every port of the protocol; a string: a named container port */
  port?: number | string;
  endPort?: number;
}

export interface PolicyRule {
  /** undefined: every peer (from/to omitted or empty) */
  peers?: PolicyPeer[];
  /** undefined: every port and protocol (ports omitted or empty) */
  ports?: PolicyPort[];
}

export interface NetworkPolicySpec {
  name: string;
  namespace: string;
  podSelector: LabelSelector;
  policyTypes: PolicyType[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

export const policyKey = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

/** Does `labels` satisfy the selector? (An empty selector matches every set of labels.) */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In': if (!has || !e.values.includes(labels[e.key])) return false; break;
      case 'NotIn': if (has && e.values.includes(labels[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
    }
  }
  return true;
}

export function ipInBlock(ip: number, r: IpBlockRange): boolean {
  const mask = r.prefixLen === 0 ? 0 : (~0 << (32 - r.prefixLen)) >>> 0;
  return ((ip & mask) >>> 0) === r.net;
}
export function rangeText(r: IpBlockRange): string {
  return `${intToIpv4(r.net)}/${r.prefixLen}`;
}

/**
 * The topology's `networkPolicies:` list: entries { name, namespace, spec },
 * spec as a NetworkPolicy's. Problems name the entry ("networkPolicies[1].spec.ingress[0]...").
 */
export function parseNetworkPolicyList(raw: unknown, problems: string[]): NetworkPolicySpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) { problems.push('networkPolicies: expected a list like [{ name: deny-all, namespace: shop, spec: { podSelector: {} } }]'); return []; }
  const out: NetworkPolicySpec[] = [];
  const seen = new Map<string, number>();
  raw.forEach((entry, i) => {
    const where = `networkPolicies[${i}]`;
    if (!isObject(entry)) { problems.push(`${where}: expected a mapping with name, namespace and spec`); return; }
    unknownKeys(entry, TOPOLOGY_POLICY_KEYS, `${where}.`, problems);
    const before = problems.length;
    const name = entry.name;
    if (typeof name !== 'string' || !isPolicyName(name)) problems.push(`${where}.name: ${name === undefined ? 'required' : `${JSON.stringify(name)} is not a valid NetworkPolicy name (a DNS-1123 subdomain)`}`);
    const namespace = entry.namespace ?? DEFAULT_NAMESPACE;
    if (typeof namespace !== 'string' || !isNamespaceName(namespace)) problems.push(`${where}.namespace: ${JSON.stringify(namespace)} is not a valid namespace name`);
    const spec = readNetworkPolicySpec(entry.spec, `${where}.spec`, problems);
    if (!spec || problems.length !== before) return;
    const key = `${namespace as string}/${name as string}`;
    if (seen.has(key)) { problems.push(`${where}.name: NetworkPolicy "${name as string}" in namespace ${namespace as string} is already networkPolicies[${seen.get(key)}]`); return; }
    seen.set(key, i);
    out.push({ name: name as string, namespace: namespace as string, ...spec });
  });
  return out;
}

export function isPolicyName(s: string): boolean {
  return POLICY_NAME_RE.test(s) && s.length <= 253;
}

/**
 * A NetworkPolicy's spec. `where` is the field path so far ("spec", or
 * "document 2 (NetworkPolicy deny): spec"): every problem is pushed as
 * "<where>.<field>: <message>". Undefined when the spec is not a mapping.
 */
export function readNetworkPolicySpec(raw: unknown, where: string, problems: string[]): Omit<NetworkPolicySpec, 'name' | 'namespace'> | undefined {
  if (!isObject(raw)) { problems.push(`${where}: ${raw === undefined ? 'required' : 'expected a mapping'} (like { podSelector: {}, policyTypes: [Ingress] })`); return undefined; }
  unknownKeys(raw, SPEC_KEYS, `${where}.`, problems);
  // podSelector is required by the API, but {} (every pod of the namespace) is what an omitted one means to users
  const podSelector = raw.podSelector === undefined ? emptySelector() : readSelector(raw.podSelector, `${where}.podSelector`, problems);
  const ingress = readRules(raw.ingress, `${where}.ingress`, 'from', problems);
  const egress = readRules(raw.egress, `${where}.egress`, 'to', problems);
  let policyTypes: PolicyType[];
  if (raw.policyTypes === undefined) {
    policyTypes = egress.length ? ['Ingress', 'Egress'] : ['Ingress'];
  } else if (!Array.isArray(raw.policyTypes)) {
    problems.push(`${where}.policyTypes: expected a list of Ingress and/or Egress`);
    policyTypes = ['Ingress'];
  } else {
    policyTypes = [];
    raw.policyTypes.forEach((t, i) => {
      if (!POLICY_TYPES.includes(t as PolicyType)) problems.push(`${where}.policyTypes[${i}]: ${JSON.stringify(t)} is not one of ${POLICY_TYPES.join(', ')}`);
      else if (policyTypes.includes(t as PolicyType)) problems.push(`${where}.policyTypes[${i}]: "${t as string}" is listed twice`);
      else policyTypes.push(t as PolicyType);
    });
  }
  return { podSelector: podSelector ?? emptySelector(), policyTypes, ingress, egress };
}

function emptySelector(): LabelSelector {
  return { matchLabels: {}, matchExpressions: [] };
}

function readRules(raw: unknown, where: string, peersKey: 'from' | 'to', problems: string[]): PolicyRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) { problems.push(`${where}: expected a list of rules like [{ ${peersKey}: [...], ports: [...] }]`); return []; }
  const out: PolicyRule[] = [];
  raw.forEach((r, i) => {
    const f = `${where}[${i}]`;
    if (r === null || (isObject(r) && Object.keys(r).length === 0)) { out.push({}); return; } // {}: everything
    if (!isObject(r)) { problems.push(`${f}: expected a mapping with ${peersKey} and/or ports`); return; }
    unknownKeys(r, peersKey === 'from' ? INGRESS_RULE_KEYS : EGRESS_RULE_KEYS, `${f}.`, problems);
    const rule: PolicyRule = {};
    const peers = r[peersKey];
    if (peers !== undefined && peers !== null) {
      if (!Array.isArray(peers)) problems.push(`${f}.${peersKey}: expected a list of peers (podSelector, namespaceSelector, ipBlock)`);
      else if (peers.length) rule.peers = peers.flatMap((p, j) => readPeer(p, `${f}.${peersKey}[${j}]`, problems) ?? []);
    }
    if (r.ports !== undefined && r.ports !== null) {
      if (!Array.isArray(r.ports)) problems.push(`${f}.ports: expected a list like [{ protocol: TCP, port: 80 }]`);
      else if (r.ports.length) rule.ports = r.ports.flatMap((p, j) => readPort(p, `${f}.ports[${j}]`, problems) ?? []);
    }
    out.push(rule);
  });
  return out;
}

function readPeer(raw: unknown, where: string, problems: string[]): PolicyPeer | undefined {
  if (!isObject(raw)) { problems.push(`${where}: expected a mapping with podSelector, namespaceSelector or ipBlock`); return undefined; }
  unknownKeys(raw, PEER_KEYS, `${where}.`, problems);
  const has = (k: string) => raw[k] !== undefined && raw[k] !== null;
  if (has('ipBlock')) {
    if (has('podSelector') || has('namespaceSelector')) { problems.push(`${where}: may not specify more than 1 peer type (ipBlock cannot be combined with podSelector or namespaceSelector)`); return undefined; }
    const b = readIpBlock(raw.ipBlock, `${where}.ipBlock`, problems);
    return b && { kind: 'ipBlock', ipBlock: b };
  }
  if (!has('podSelector') && !has('namespaceSelector')) { problems.push(`${where}: must specify a peer (podSelector, namespaceSelector or ipBlock)`); return undefined; }
  const podSelector = has('podSelector') ? readSelector(raw.podSelector, `${where}.podSelector`, problems) : undefined;
  const namespaceSelector = has('namespaceSelector') ? readSelector(raw.namespaceSelector, `${where}.namespaceSelector`, problems) : undefined;
  return { kind: 'pods', ...(podSelector ? { podSelector } : {}), ...(namespaceSelector ? { namespaceSelector } : {}) };
}

function readIpBlock(raw: unknown, where: string, problems: string[]): IpBlock | undefined {
  if (!isObject(raw)) { problems.push(`${where}: expected a mapping like { cidr: 10.0.0.0/8, except: [10.1.0.0/16] }`); return undefined; }
  unknownKeys(raw, IPBLOCK_KEYS, `${where}.`, problems);
  const cidr = readRange(raw.cidr, `${where}.cidr`, problems);
  const except: IpBlockRange[] = [];
  if (raw.except !== undefined && raw.except !== null) {
    if (!Array.isArray(raw.except)) problems.push(`${where}.except: expected a list of CIDRs`);
    else raw.except.forEach((e, i) => {
      const r = readRange(e, `${where}.except[${i}]`, problems);
      if (!r || !cidr) return;
      if (r.prefixLen <= cidr.prefixLen || !ipInBlock(r.net, cidr)) problems.push(`${where}.except[${i}]: ${rangeText(r)} must be a strict subset of cidr ${rangeText(cidr)}`);
      else except.push(r);
    });
  }
  return cidr && { cidr, except };
}

function readRange(raw: unknown, where: string, problems: string[]): IpBlockRange | undefined {
  const m = typeof raw === 'string' ? /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(raw) : null;
  let ip: number | undefined;
  try { if (m) ip = ipv4ToInt(m[1]); } catch { ip = undefined; }
  if (!m || ip === undefined || Number(m[2]) > 32) {
    problems.push(`${where}: ${raw === undefined ? 'required' : `${JSON.stringify(raw)} is not a valid IPv4 CIDR like 10.0.0.0/16`}${typeof raw === 'string' && raw.includes(':') ? ' (podwire models IPv4 only)' : ''}`);
    return undefined;
  }
  const prefixLen = Number(m[2]);
  const mask = prefixLen === 0 ? 0 : (~0 << (32 - prefixLen)) >>> 0;
  return { net: (ip & mask) >>> 0, prefixLen };
}

function readPort(raw: unknown, where: string, problems: string[]): PolicyPort | undefined {
  if (!isObject(raw)) { problems.push(`${where}: expected a mapping like { protocol: TCP, port: 80 }`); return undefined; }
  unknownKeys(raw, PORT_KEYS, `${where}.`, problems);
  const before = problems.length;
  const protocol = raw.protocol ?? 'TCP';
  if (!POLICY_PROTOCOLS.includes(protocol as PolicyProtocol)) problems.push(`${where}.protocol: ${JSON.stringify(protocol)} is not one of ${POLICY_PROTOCOLS.join(', ')}`);
  const port = raw.port;
  if (port !== undefined && port !== null) {
    if (typeof port === 'number') {
      if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${where}.port: ${port} is not an integer in [1, 65535]`);
    } else if (typeof port !== 'string' || !isIanaSvcName(port)) {
      problems.push(`${where}.port: ${JSON.stringify(port)} is neither a port number nor a valid port name (IANA_SVC_NAME)`);
    }
  }
  const endPort = raw.endPort;
  if (endPort !== undefined && endPort !== null) {
    if (typeof endPort !== 'number' || !Number.isInteger(endPort) || endPort < 1 || endPort > 65535) problems.push(`${where}.endPort: ${JSON.stringify(endPort)} is not an integer in [1, 65535]`);
    else if (port === undefined || port === null) problems.push(`${where}.endPort: may not be specified when port is not specified`);
    else if (typeof port === 'string') problems.push(`${where}.endPort: may not be specified when port is a named port ("${port}")`);
    else if (typeof port === 'number' && endPort < port) problems.push(`${where}.endPort: ${endPort} must be greater than or equal to port ${port}`);
  }
  if (problems.length !== before) return undefined;
  return {
    protocol: protocol as PolicyProtocol,
    ...(port !== undefined && port !== null ? { port: port as number | string } : {}),
    ...(endPort !== undefined && endPort !== null ? { endPort: endPort as number } : {}),
  };
}

function readSelector(raw: unknown, where: string, problems: string[]): LabelSelector | undefined {
  if (raw === null) return emptySelector();
  if (!isObject(raw)) { problems.push(`${where}: expected a label selector like { matchLabels: { app: web } } ({} selects all)`); return undefined; }
  unknownKeys(raw, SELECTOR_KEYS, `${where}.`, problems);
  const sel = emptySelector();
  if (raw.matchLabels !== undefined && raw.matchLabels !== null) {
    if (!isObject(raw.matchLabels)) problems.push(`${where}.matchLabels: expected a mapping of label names to values`);
    else for (const [k, v] of Object.entries(raw.matchLabels)) {
      if (!isLabelKey(k)) problems.push(`${where}.matchLabels: ${JSON.stringify(k)} is not a valid label key`);
      else if (typeof v !== 'string' || !isLabelValue(v)) problems.push(`${where}.matchLabels.${k}: ${JSON.stringify(v)} is not a valid label value (a string of at most 63 letters, digits, "-", "_", "."; quote numbers)`);
      else sel.matchLabels[k] = v;
    }
  }
  if (raw.matchExpressions !== undefined && raw.matchExpressions !== null) {
    if (!Array.isArray(raw.matchExpressions)) problems.push(`${where}.matchExpressions: expected a list like [{ key: app, operator: In, values: [web] }]`);
    else raw.matchExpressions.forEach((e, i) => {
      const f = `${where}.matchExpressions[${i}]`;
      if (!isObject(e)) { problems.push(`${f}: expected a mapping with key, operator and values`); return; }
      unknownKeys(e, EXPRESSION_KEYS, `${f}.`, problems);
      const before = problems.length;
      if (typeof e.key !== 'string' || !isLabelKey(e.key)) problems.push(`${f}.key: ${e.key === undefined ? 'required' : `${JSON.stringify(e.key)} is not a valid label key`}`);
      const op = e.operator;
      if (!SELECTOR_OPERATORS.includes(op as SelectorOperator)) { problems.push(`${f}.operator: ${JSON.stringify(op)} is not a valid selector operator (In, NotIn, Exists, DoesNotExist)`); return; }
      const values = e.values ?? [];
      if (!Array.isArray(values)) { problems.push(`${f}.values: expected a list of strings`); return; }
      if ((op === 'In' || op === 'NotIn') && values.length === 0) problems.push(`${f}.values: must be specified when operator is ${op as string}`);
      if ((op === 'Exists' || op === 'DoesNotExist') && values.length !== 0) problems.push(`${f}.values: may not be specified when operator is ${op as string}`);
      values.forEach((v, j) => { if (typeof v !== 'string' || !isLabelValue(v)) problems.push(`${f}.values[${j}]: ${JSON.stringify(v)} is not a valid label value`); });
      if (problems.length === before) sel.matchExpressions.push({ key: e.key as string, operator: op as SelectorOperator, values: values as string[] });
    });
  }
  return sel;
}

function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf('/');
  const name = slash < 0 ? k : k.slice(slash + 1);
  const prefix = slash < 0 ? undefined : k.slice(0, slash);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix))) return false;
  return name.length >= 1 && name.length <= 63 && LABEL_NAME_RE.test(name);
}
function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE_RE.test(v);
}
