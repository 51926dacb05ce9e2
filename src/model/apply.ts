// `podwire apply` and `podwire delete service` in the model: what a file asks
// for, and the running lab's next Service list, computed whole before
// anything changes (nothing is ever half-applied). Pure: no data plane here.
//
// FILE is either
//  - Kubernetes manifests: Service and EndpointSlice documents (manifests.ts),
//    and Ingress / IngressClass / TLS Secret documents, carried to the lab's
//    Ingress controller (src/lab/ingress.ts plans and checks those), or
//  - the topology format: a mapping with a `services:` (and `ingresses:`) list, as in the
//    topology file. `cluster:`, `namespaces:` and `nodes:` are ignored (a
//    running lab's nodes, pods and namespaces are fixed at `up`, so the
//    topology file itself can be applied); any other top-level key is refused.
// Semantics as `kubectl apply`: each Service in FILE is created or replaced
// by (namespace, name); Services not in FILE are untouched. Allocation is
// stable (allocateServices with the lab's Services as `existing`).
import { parseAllDocuments } from 'yaml';
import { TopologyError, type LabPlan } from './topology.ts';
import { parseManifests, type ManifestDoc } from './manifests.ts';
import { parseNetworkPolicyList, type NetworkPolicySpec } from './network-policy.ts';
import type { Located } from './ingress.ts';
import {
  parseServiceList, allocateServices, checkServiceCapacity, isObject, serviceLabel,
  DEFAULT_SERVICE_CAPACITY, DEFAULT_SERVICE_MAX_BACKENDS, type ServiceSpec, type ServicePlan,
} from './services.ts';

import { clusterDnsNameProblems, DNS_NAMESPACE, DNS_SERVICE_NAME } from './dns.ts';
import { assignLoadBalancerAddresses } from './load-balancer.ts';
import { ingressNameProblems, isIngressControllerService, INGRESS_NAMESPACE, INGRESS_SERVICE_NAME, type IngressObjects } from './ingress-pod.ts';
import { parseIngressList } from './ingress.ts';

export const APPLY_TOPOLOGY_KEYS = ['services', 'ingresses', 'networkPolicies', 'cluster', 'namespaces', 'nodes'];

/** What the CLI sends the lab: the parsed Services of FILE, and where each came from. */
export interface ApplyInput {
  services: ServiceSpec[];
  /** parallel to `services`: "document 2 (Service api)" or "services[1]" */
  origins: string[];
  /** the file, for messages */
  source: string;
  /** Ingress, IngressClass and TLS Secret objects of FILE (the lab's Ingress controller takes them: src/lab/ingress.ts) */
  ingressObjects?: IngressObjects;
  /** NetworkPolicies in FILE (manifests, or the topology format's networkPolicies:), each with where it came from */
  networkPolicies?: Located<NetworkPolicySpec>[];
}

/** How many Ingress, IngressClass and Secret objects an apply carries. */
export function ingressObjectCount(input: Pick<ApplyInput, 'ingressObjects'>): number {
  const o = input.ingressObjects;
  return o ? o.ingresses.length + o.classes.length + o.secrets.length : 0;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'deleted';
/** kind: as kubectl prints it ("ingress.networking.k8s.io"); absent for a Service */
export interface ApplyResult { namespace: string; name: string; action: ApplyAction; kind?: string }

export interface ServiceChange {
  /** the lab's whole Service list after the change, in order: existing ones in place, new ones last */
  services: ServicePlan[];
  /** one per Service in the request, in request order */
  results: ApplyResult[];
  /** "namespace/name" of every Service created, changed or deleted (the data plane's work) */
  touched: string[];
}

/** What the plan must offer: its Service range, nodes (pods) and current Services. */
export type ServiceHolder = Pick<LabPlan, 'serviceCIDR' | 'nodes' | 'services' | 'serviceCapacity' | 'serviceMaxBackends' | 'dns' | 'ingress' | 'loadBalancerPool'>
  & Partial<Pick<LabPlan, 'underlayCIDR'>>;

export const serviceKey = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

/** Read FILE's text: manifests or the topology format (see the top of this file). Throws TopologyError naming documents and fields. */
export function parseApplyFile(text: string, source: string): ApplyInput {
  const docs: ManifestDoc[] = jsonDocs(text) ?? parseAllDocuments(text);
  const nonEmpty = docs.filter((d) => d.errors.length || d.toJS() != null);
  const only = nonEmpty.length === 1 && !nonEmpty[0].errors.length ? nonEmpty[0].toJS() : undefined;
  if (isObject(only) && only.kind === undefined && only.apiVersion === undefined) {
    const problems: string[] = [];
    if (!('services' in only) && !('ingresses' in only) && !('networkPolicies' in only)) problems.push('services: required (a topology-format file lists its Services under services:, its Ingresses under ingresses:, its NetworkPolicies under networkPolicies:), or give Kubernetes manifests');
    for (const k of Object.keys(only)) {
      if (!APPLY_TOPOLOGY_KEYS.includes(k)) problems.push(`${k}: unknown key (known: ${APPLY_TOPOLOGY_KEYS.join(', ')}; cluster, namespaces and nodes are ignored by apply)`);
    }
    const list = Array.isArray(only.services) ? only.services : [];
    const services = parseServiceList(only.services, problems);
    const ingresses = parseIngressList(only.ingresses, problems);
    const policies = parseNetworkPolicyList(only.networkPolicies, problems);
    if (problems.length) throw new TopologyError(problems, source, `${source} is invalid (nothing applied)`);
    return {
      services, origins: list.map((_, i) => `services[${i}]`), source,
      ...(ingresses.length ? { ingressObjects: { ingresses, classes: [], secrets: [] } } : {}),
      ...(policies.length ? { networkPolicies: policies.map((value, i) => ({ value, origin: `networkPolicies[${i}]`, root: 'spec.' })) } : {}),
    };
  }
  try {
    const m = parseManifests(docs, source);
    const ingressObjects: IngressObjects = { ingresses: m.ingresses, classes: m.ingressClasses, secrets: m.secrets };
    return {
      services: m.services, origins: m.origins, source,
      ...(ingressObjectCount({ ingressObjects }) ? { ingressObjects } : {}),
      ...(m.networkPolicies.length ? { networkPolicies: m.networkPolicies } : {}),
    };
  } catch (e) {
    if (e instanceof TopologyError) throw new TopologyError(e.problems, source, `${source} is invalid (nothing applied)`);
    throw e;
  }
}

/**
 * JSON (`kubectl get -o json`: one object, or a List of items), read with
 * JSON.parse: many times faster than YAML for thousands of objects. Each
 * object is a document. Undefined when the text is not JSON (YAML then).
 */
function jsonDocs(text: string): ManifestDoc[] | undefined {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  let v: unknown;
  try { v = JSON.parse(t); } catch { return undefined; }
  const items: unknown[] = Array.isArray(v) ? v : isObject(v) && v.kind === 'List' && Array.isArray(v.items) ? v.items : [v];
  return items.map((o) => ({ errors: [], toJS: () => o }));
}

/**
 * The lab's Services after applying `input`, or a TopologyError listing every
 * problem (each prefixed by the document or list entry it concerns).
 */
export function planApply(plan: ServiceHolder, input: ApplyInput): ServiceChange {
  const problems: string[] = [];
  if (input.services.length === 0) {
    if (ingressObjectCount(input) === 0) throw new TopologyError(['no Service, Ingress, IngressClass or Secret in the file'], input.source, `${input.source}: nothing to apply`);
    return { services: plan.services, results: [], touched: [] }; // Ingress objects only: the controller's part (src/lab/ingress.ts)
  }
  // kube-system/kube-dns is the lab's own (cluster DNS): refused, and not planned further
  const own = (s: ServiceSpec) => plan.dns !== undefined && s.namespace === DNS_NAMESPACE && s.name === DNS_SERVICE_NAME;
  if (plan.dns) clusterDnsNameProblems(input.services, [], problems);
  if (plan.ingress) ingressNameProblems(input.services, [], problems);
  const allocated = allocateServices(input.services.filter((s) => !own(s)), { serviceCIDR: plan.serviceCIDR, nodes: plan.nodes }, problems, plan.services);
  const byKey = new Map(allocated.map((s) => [serviceKey(s), s]));
  const had = new Map(plan.services.map((s) => [serviceKey(s), s]));
  const merged = [...plan.services.map((e) => byKey.get(serviceKey(e)) ?? e), ...allocated.filter((s) => !had.has(serviceKey(s)))];
  // LoadBalancer addresses over the whole list: kept ones stay, a pending Service may get one freed since
  const services = assignLoadBalancerAddresses(merged, plan.services, poolOf(plan), problems);
  const planned = services.filter((s) => byKey.has(serviceKey(s)));
  if (!problems.length) checkCapacity(plan, services, problems);
  if (problems.length) {
    // "service api: msg" -> "document 2 (Service api): msg": name where in FILE it is
    const origin = new Map(input.services.map((s, i) => [`${serviceLabel(s)}: `, input.origins[i]]));
    const named = problems.map((p) => {
      for (const [label, o] of origin) if (o && p.startsWith(label)) return `${o}: ${p.slice(label.length)}`;
      return p;
    });
    throw new TopologyError(named, input.source, `${input.source}: nothing applied`);
  }
  const results: ApplyResult[] = planned.map((s) => {
    const before = had.get(serviceKey(s));
    return { namespace: s.namespace, name: s.name, action: !before ? 'created' : sameService(before, s) ? 'unchanged' : 'configured' };
  });
  const touched = new Set([...results.filter((r) => r.action !== 'unchanged').map(serviceKey), ...addressMoved(plan.services, services)]);
  return { services, results, touched: [...touched] };
}

/** The lab's Services without these; throws naming any that does not exist (then nothing is deleted). */
export function planDelete(plan: ServiceHolder, refs: { namespace: string; name: string }[]): ServiceChange {
  const had = new Set(plan.services.map(serviceKey));
  if (plan.dns && refs.some((r) => r.namespace === DNS_NAMESPACE && r.name === DNS_SERVICE_NAME)) {
    throw new Error(`service ${DNS_NAMESPACE}/${DNS_SERVICE_NAME} is the cluster DNS Service: it cannot be deleted (set cluster.dns: false in the topology for a lab without it)`);
  }
  if (plan.ingress && refs.some(isIngressControllerService)) {
    throw new Error(`service ${INGRESS_NAMESPACE}/${INGRESS_SERVICE_NAME} is the Ingress controller's Service: it cannot be deleted (leave cluster.ingress out of the topology for a lab without it)`);
  }
  const missing = refs.filter((r) => !had.has(serviceKey(r)));
  if (missing.length) {
    throw new Error(missing.map((r) => `services "${r.name}" not found${r.namespace === 'default' ? '' : ` in namespace ${r.namespace}`}`).join('; '));
  }
  const gone = new Set(refs.map(serviceKey));
  // an address freed here goes to a Service left pending (as MetalLB does)
  const services = assignLoadBalancerAddresses(plan.services.filter((s) => !gone.has(serviceKey(s))), plan.services, poolOf(plan), []);
  return {
    services,
    results: refs.map((r) => ({ namespace: r.namespace, name: r.name, action: 'deleted' })),
    touched: [...gone, ...addressMoved(plan.services, services)],
  };
}

/** Services not asked about whose LoadBalancer address changed all the same (given one freed by another). */
function addressMoved(before: ServicePlan[], after: ServicePlan[]): string[] {
  const was = new Map(before.map((s) => [serviceKey(s), s.loadBalancer?.ip]));
  return after.filter((s) => was.has(serviceKey(s)) && was.get(serviceKey(s)) !== s.loadBalancer?.ip).map(serviceKey);
}

function poolOf(plan: ServiceHolder) {
  return { loadBalancerPool: plan.loadBalancerPool, underlayCIDR: plan.underlayCIDR };
}

function checkCapacity(plan: ServiceHolder, services: ServicePlan[], problems: string[]): void {
  checkServiceCapacity(services, plan.serviceCapacity ?? DEFAULT_SERVICE_CAPACITY, plan.serviceMaxBackends ?? DEFAULT_SERVICE_MAX_BACKENDS, problems);
}

/** Two planned Services are the same when every field is (key order aside). */
export function sameService(a: ServicePlan, b: ServicePlan): boolean {
  return canonical(a) === canonical(b);
}
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))) : x));
}
