// NetworkPolicies compiled, per node, into tables a data plane checks with a
// fixed number of lookups, whatever the number of policies (Cilium-style):
//
//  - identities: pods with the same namespace, labels and named ports are
//    one identity (cluster-wide); a pod address maps to its identity.
//  - address classes: every ipBlock cidr and except of the policies that
//    select a pod of this node, plus 0.0.0.0/0, is a prefix; an address's
//    class is its longest matching prefix. Because prefixes either nest or
//    are disjoint, that one prefix tells which ipBlocks hold the address.
//  - allow entries: (local pod, direction, peer, protocol) -> port ranges,
//    each range carrying the rule that allowed it. A peer is an identity or
//    an address class; protocol 0 stands for "every protocol" (a rule
//    without ports).
//
// A connection from/to a local pod isolated in that direction is allowed
// when one of at most four entries admits its port: (identity of the peer
// address, protocol), (identity, any), (class of the peer address,
// protocol), (class, any). decidePolicy below does exactly what the data
// plane does, so the truth tables can be checked without a network.
// Named ports are resolved on the pod the port is on: the local pod for
// ingress, each peer identity for egress (ports are part of an identity, so
// every pod of it resolves a name the same way).
import { ipv4ToInt } from './addr.ts';
import type { ContainerPort } from './pod-ports.ts';
import {
  selectorMatches, ipInBlock, policyKey, rangeText,
  type NetworkPolicySpec, type PolicyRule, type PolicyPort, type IpBlockRange, type PolicyPeer,
} from './network-policy.ts';

export type Direction = 'ingress' | 'egress';
export const PROTO_NUMBER = { TCP: 6, UDP: 17, SCTP: 132 } as const;
/** An allow entry's protocol for a rule without ports: every protocol, every port. */
export const ANY_PROTOCOL = 0;
/** Address-class peers are numbered from here; identities from 1 below it. */
export const CLASS_PEER_BASE = 0x8000_0000;

/** What compile needs of a pod. */
export interface PolicyPod {
  name: string;
  /** the Kubernetes namespace */
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  node: string;
  ports?: ContainerPort[];
}

export interface PortRange { lo: number; hi: number; /** index into CompiledPolicies.rules */ rule: number }

export interface AllowEntry {
  /** the local pod's address (the destination for ingress, the source for egress) */
  podIp: number;
  direction: Direction;
  /** an identity (< CLASS_PEER_BASE) or CLASS_PEER_BASE + address class index */
  peer: number;
  /** 6, 17, 132, or ANY_PROTOCOL */
  protocol: number;
  ranges: PortRange[];
}

export interface CompiledRule {
  /** "namespace/name" */
  policy: string;
  direction: Direction;
  /** the rule's index in spec.ingress or spec.egress */
  index: number;
}

export interface IsolatedPod {
  name: string;
  namespace: string;
  ip: number;
  /** the policies isolating the pod for ingress ("ns/name"), empty when not isolated */
  ingress: string[];
  egress: string[];
}

export interface CompiledPolicies {
  node: string;
  /** every pod of the cluster: address -> identity (1-based) */
  identities: Map<number, number>;
  /** what each identity is, for output: index identity - 1 */
  identityNames: string[];
  /** address classes (longest prefix wins); index = peer - CLASS_PEER_BASE */
  classes: IpBlockRange[];
  /** pods of this node that some policy selects */
  pods: IsolatedPod[];
  allows: AllowEntry[];
  rules: CompiledRule[];
}

/**
 * Compile `policies` for the pods of node `node` (all pods of the cluster
 * are peers). Cost: rules x identities (each rule's peers once), plus the allow
 * entries written for the node's pods, once per change.
 */
export function compilePolicies(node: string, pods: PolicyPod[], namespaceLabels: Map<string, Record<string, string>>, policies: NetworkPolicySpec[]): CompiledPolicies {
  const { identities, identityNames, members } = assignIdentities(pods);
  const local = pods.filter((p) => p.node === node);
  const selecting = local.map((p) => policies.filter((np) => np.namespace === p.namespace && selectorMatches(np.podSelector, p.labels)));

  // the address classes: every prefix the selecting policies name, and 0/0
  const classes: IpBlockRange[] = [{ net: 0, prefixLen: 0 }];
  const classKey = new Set(['0/0']);
  for (const np of new Set(selecting.flat())) for (const rule of [...np.ingress, ...np.egress]) for (const peer of rule.peers ?? []) {
    if (peer.kind !== 'ipBlock') continue;
    for (const r of [peer.ipBlock.cidr, ...peer.ipBlock.except]) {
      const k = `${r.net}/${r.prefixLen}`;
      if (!classKey.has(k)) { classKey.add(k); classes.push(r); }
    }
  }

  const rules: CompiledRule[] = [];
  const ruleIds = new Map<string, number>();
  const ruleId = (np: NetworkPolicySpec, direction: Direction, index: number): number => {
    const k = `${policyKey(np)}|${direction}|${index}`;
    let id = ruleIds.get(k);
    if (id === undefined) { id = rules.length; rules.push({ policy: policyKey(np), direction, index }); ruleIds.set(k, id); }
    return id;
  };
  // Pods of one identity (namespace, labels, named ports) are selected by the same policies and
  // resolve the same named ports: their entries are worked out once, for the identity's first
  // pod, and written for each of its pods. (peer, direction, protocol) is one number, so the
  // facts a rule emits (rules x peers, many repeats) build no strings.
  type Template = { ingress: string[]; egress: string[]; entries: Omit<AllowEntry, 'podIp'>[] };
  const templates = new Map<number, Template>();
  const cx: CompileContext = { pods, members, identities, namespaceLabels, classes, peerCache: new Map() };
  const templateFor = (pod: PolicyPod, sel: NetworkPolicySpec[]): Template => {
    const t: Template = { ingress: [], egress: [], entries: [] };
    const byKey = new Map<number, Omit<AllowEntry, 'podIp'>>();
    for (const np of sel) for (const direction of ['ingress', 'egress'] as const) {
      if (!np.policyTypes.includes(direction === 'ingress' ? 'Ingress' : 'Egress')) continue;
      t[direction].push(policyKey(np));
      np[direction].forEach((rule, index) => {
        const id = ruleId(np, direction, index);
        compileRule(rule, direction, np.namespace, pod, cx, (peer, protocol, lo, hi) => {
          const k = peer * 512 + (direction === 'ingress' ? 256 : 0) + protocol;
          let e = byKey.get(k);
          if (!e) { e = { direction, peer, protocol, ranges: [] }; byKey.set(k, e); t.entries.push(e); }
          if (!e.ranges.some((r) => r.lo <= lo && r.hi >= hi)) e.ranges.push({ lo, hi, rule: id });
        });
      });
    }
    return t;
  };
  const allows: AllowEntry[] = [];
  const isolated: IsolatedPod[] = [];
  local.forEach((pod, i) => {
    const sel = selecting[i];
    if (!sel.length) return;
    const podIp = ipv4ToInt(pod.ip);
    const identity = identities.get(podIp)!;
    let t = templates.get(identity);
    if (!t) { t = templateFor(pod, sel); templates.set(identity, t); }
    isolated.push({ name: pod.name, namespace: pod.namespace, ip: podIp, ingress: [...t.ingress], egress: [...t.egress] });
    // the ranges are shared between the identity's pods: nothing changes them after compile
    for (const e of t.entries) allows.push({ podIp, ...e });
  });
  return { node, identities, identityNames, classes, pods: isolated, allows, rules };
}

interface CompileContext {
  pods: PolicyPod[];
  /** identity -> its pods */
  members: Map<number, PolicyPod[]>;
  identities: Map<number, number>;
  namespaceLabels: Map<string, Record<string, string>>;
  classes: IpBlockRange[];
  /** each rule's peers, worked out once for all the pods its policy selects */
  peerCache: Map<PolicyRule, RulePeers>;
}

/** What a rule admits, whatever local pod its policy selects (only an ingress named port depends on that pod). */
interface RulePeers {
  /** identities, then address classes (CLASS_PEER_BASE + index) */
  peers: number[];
  /** per entry of rule.ports naming a port, for egress: the (identity, port) pairs it resolves to */
  egressNamed: Map<PolicyPort, [number, number][]>;
}

type Emit = (peer: number, protocol: number, lo: number, hi: number) => void;

/** One rule of a policy selecting `pod`: the allow entries it adds. */
function compileRule(rule: PolicyRule, direction: Direction, policyNamespace: string, pod: PolicyPod, cx: CompileContext, emit: Emit): void {
  let rp = cx.peerCache.get(rule);
  if (!rp) { rp = rulePeers(rule, direction, policyNamespace, cx); cx.peerCache.set(rule, rp); }
  const { peers } = rp;
  if (rule.ports === undefined) {
    for (const peer of peers) emit(peer, ANY_PROTOCOL, 0, 65535);
    return;
  }
  for (const port of rule.ports) {
    const protocol = PROTO_NUMBER[port.protocol];
    if (typeof port.port !== 'string') {
      const [lo, hi] = port.port === undefined ? [0, 65535] : [port.port, port.endPort ?? port.port];
      for (const peer of peers) emit(peer, protocol, lo, hi);
    } else if (direction === 'ingress') {
      const n = namedPort(pod.ports, port);
      if (n !== undefined) for (const peer of peers) emit(peer, protocol, n, n);
    } else {
      for (const [id, n] of rp.egressNamed.get(port) ?? []) emit(id, protocol, n, n);
    }
  }
}

/** A rule's peers (identities and address classes) and its egress named ports resolved on them. */
function rulePeers(rule: PolicyRule, direction: Direction, policyNamespace: string, cx: CompileContext): RulePeers {
  // the peers as identities, and as address classes (ipBlocks, or "every peer")
  const peerIdentities = new Set<number>();
  const peerClasses = new Set<number>();
  const everyPeer = rule.peers === undefined;
  for (const peer of rule.peers ?? [{ kind: 'ipBlock', ipBlock: { cidr: { net: 0, prefixLen: 0 }, except: [] } } as PolicyPeer]) {
    if (peer.kind === 'ipBlock') {
      cx.classes.forEach((c, k) => {
        const inCidr = c.prefixLen >= peer.ipBlock.cidr.prefixLen && ipInBlock(c.net, peer.ipBlock.cidr);
        const inExcept = peer.ipBlock.except.some((x) => c.prefixLen >= x.prefixLen && ipInBlock(c.net, x));
        if (inCidr && !inExcept) peerClasses.add(CLASS_PEER_BASE + k);
      });
    } else {
      for (const [id, ms] of cx.members) {
        const m = ms[0];
        const nsOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, cx.namespaceLabels.get(m.namespace) ?? {}) : m.namespace === policyNamespace;
        if (nsOk && (!peer.podSelector || selectorMatches(peer.podSelector, m.labels))) peerIdentities.add(id);
      }
    }
  }
  const peers = [...peerIdentities, ...peerClasses];
  const egressNamed = new Map<PolicyPort, [number, number][]>();
  if (direction === 'egress') for (const port of rule.ports ?? []) {
    if (typeof port.port !== 'string') continue;
    // egress to a named port: resolved on each destination identity; an
    // ipBlock (or every peer) names the pods whose addresses it holds
    const pairs: [number, number][] = [];
    for (const [id, ms] of cx.members) {
      const m = ms[0];
      const inPeer = peerIdentities.has(id) || ms.some((p) => {
        const a = ipv4ToInt(p.ip);
        return peerClasses.has(CLASS_PEER_BASE + classOf(cx.classes, a));
      }) || everyPeer;
      const n = inPeer ? namedPort(m.ports, port) : undefined;
      if (n !== undefined) pairs.push([id, n]);
    }
    egressNamed.set(port, pairs);
  }
  return { peers, egressNamed };
}

function namedPort(ports: ContainerPort[] | undefined, p: PolicyPort): number | undefined {
  return ports?.find((c) => c.name === p.port && c.protocol === p.protocol)?.containerPort;
}

/** Identities: pods alike in namespace, labels and named ports share one. */
function assignIdentities(pods: PolicyPod[]): { identities: Map<number, number>; identityNames: string[]; members: Map<number, PolicyPod[]> } {
  const byKey = new Map<string, number>();
  const identities = new Map<number, number>();
  const identityNames: string[] = [];
  const members = new Map<number, PolicyPod[]>();
  for (const p of pods) {
    const labels = Object.entries(p.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(',');
    const ports = (p.ports ?? []).filter((c) => c.name).map((c) => `${c.name}/${c.protocol}=${c.containerPort}`).sort().join(',');
    const key = `${p.namespace}|${labels}|${ports}`;
    let id = byKey.get(key);
    if (id === undefined) {
      id = identityNames.length + 1;
      byKey.set(key, id);
      identityNames.push(`${p.namespace}{${labels}}${ports ? ` ports{${ports}}` : ''}`);
      members.set(id, []);
    }
    members.get(id)!.push(p);
    identities.set(ipv4ToInt(p.ip), id);
  }
  return { identities, identityNames, members };
}

/** The index of the longest prefix holding `ip` (0.0.0.0/0, index 0, always does). */
export function classOf(classes: IpBlockRange[], ip: number): number {
  let best = 0;
  classes.forEach((c, k) => { if (c.prefixLen > classes[best].prefixLen && ipInBlock(ip, c)) best = k; });
  return best;
}

export interface PolicyDecision {
  allowed: boolean;
  /** the allowing rule (when a rule allowed it) */
  rule?: CompiledRule;
  /** the policies isolating the local pod in this direction (empty: not isolated, allowed) */
  isolatedBy: string[];
}

/**
 * What the data plane decides for a new connection: `local` is the pod on
 * this node (destination for ingress, source for egress), `peer` the other
 * address. Exactly the data plane's lookups: at most four entries.
 */
export function decidePolicy(c: CompiledPolicies, direction: Direction, local: string, peer: string, protocol: number, port: number): PolicyDecision {
  const localIp = ipv4ToInt(local);
  const pod = c.pods.find((p) => p.ip === localIp);
  const isolatedBy = pod ? pod[direction] : [];
  if (!isolatedBy.length) return { allowed: true, isolatedBy };
  const peerIp = ipv4ToInt(peer);
  const keys = [c.identities.get(peerIp), CLASS_PEER_BASE + classOf(c.classes, peerIp)];
  for (const k of keys) {
    if (k === undefined) continue;
    for (const proto of [protocol, ANY_PROTOCOL]) {
      const e = c.allows.find((a) => a.podIp === localIp && a.direction === direction && a.peer === k && a.protocol === proto);
      const r = e?.ranges.find((x) => port >= x.lo && port <= x.hi);
      if (r) return { allowed: true, rule: c.rules[r.rule], isolatedBy };
    }
  }
  return { allowed: false, isolatedBy };
}

/** A peer as people read it: an identity's namespace and labels, or a prefix. */
export function peerName(c: CompiledPolicies, peer: number): string {
  return peer >= CLASS_PEER_BASE ? rangeText(c.classes[peer - CLASS_PEER_BASE]) : c.identityNames[peer - 1] ?? `identity ${peer}`;
}

/** What compilePolicies needs from a plan: every pod, namespace labels, policies. */
export function compilePlanPolicies(plan: { nodes: { name: string; pods: { name: string; k8sNamespace: string; labels: Record<string, string>; ip: string; ports?: ContainerPort[] }[] }[]; namespaces?: { name: string; labels: Record<string, string> }[]; networkPolicies?: NetworkPolicySpec[] }, node: string): CompiledPolicies {
  const pods: PolicyPod[] = plan.nodes.flatMap((n) => n.pods.map((p) => ({ name: p.name, namespace: p.k8sNamespace, labels: p.labels, ip: p.ip, node: n.name, ...(p.ports ? { ports: p.ports } : {}) })));
  const nsLabels = new Map((plan.namespaces ?? []).map((n) => [n.name, n.labels]));
  // a namespace no one lists still carries its name label
  for (const p of pods) if (!nsLabels.has(p.namespace)) nsLabels.set(p.namespace, { 'kubernetes.io/metadata.name': p.namespace });
  return compilePolicies(node, pods, nsLabels, plan.networkPolicies ?? []);
}
