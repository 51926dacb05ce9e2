// Kubernetes Services in the model: what the topology file's `services:` list
// (or a Service manifest, see manifests.ts) asks for, checked, and resolved
// into a plan with every ClusterIP, nodePort and endpoint decided. Pure: no
// data plane here.
import { parseCidr, nthAddress, type Cidr } from './cidr.ts';
import { ipv4ToInt } from './addr.ts';
import { inheritAllocations, ClusterIpAllocator, NodePortAllocator, NODE_PORT_MIN, NODE_PORT_MAX, type Flag } from './service-allocation.ts';
import { selectEndpoints } from './endpoints.ts';
import { isIanaSvcName } from './pod-ports.ts';
import { TopologyError } from './errors.ts';
import type { NodePlan } from './topology.ts';

export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
export const PROTOCOLS = ['TCP', 'UDP'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export const SESSION_AFFINITIES = ['None', 'ClientIP'] as const;
export type SessionAffinity = (typeof SESSION_AFFINITIES)[number];
export const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
export type TrafficPolicy = (typeof TRAFFIC_POLICIES)[number];
export { NODE_PORT_MIN, NODE_PORT_MAX } from './service-allocation.ts';
/** Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours), and its maximum (1 day) */
export const DEFAULT_AFFINITY_TIMEOUT = 10800;
export const MAX_AFFINITY_TIMEOUT = 86400;
/** The offset in serviceCIDR of the cluster DNS Service address (10.96.0.10 in 10.96.0.0/12, as kubeadm does). */
export const DNS_OFFSET = 10;
/** A headless Service's clusterIP, as the API spells it: no address, no frontend; DNS answers with its endpoints. */
export const HEADLESS = 'None';

/** The fields of a Service spec podwire models (the topology's services[] entries add name and namespace). */
export const SERVICE_SPEC_KEYS = [
  'type', 'clusterIP', 'ports', 'selector', 'sessionAffinity', 'sessionAffinityConfig',
  'externalTrafficPolicy', 'internalTrafficPolicy', 'externalIPs', 'loadBalancerIP', 'externalName',
];
/**
 * Spec fields `kubectl get -o yaml` prints for every Service: accepted in a
 * manifest, checked for consistency (IPv4, single stack), otherwise ignored.
 */
export const EXPORTED_SPEC_KEYS = ['clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'allocateLoadBalancerNodePorts'];
/** Port fields accepted and ignored (kubectl may print appProtocol). */
const IGNORED_PORT_KEYS = ['appProtocol'];
export const IP_FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const;
export const SERVICE_KEYS = ['name', 'namespace', ...SERVICE_SPEC_KEYS];
export const SERVICE_PORT_KEYS = ['name', 'port', 'targetPort', 'protocol', 'nodePort'];

export interface ServicePortSpec {
  name?: string;
  port: number;
  /** a number, or the name of a container port of the backend pods (resolved per pod: pod-ports.ts) */
  targetPort: number | string;
  protocol: Protocol;
  /** NodePort/LoadBalancer: given, or allocated by allocateServices */
  nodePort?: number;
}

/** An explicit endpoint (from an EndpointSlice): a Service without a selector. */
export interface EndpointSpec {
  ip: string;
  ready: boolean;
  /** targetRef.name, if given: checked against the pod holding `ip` */
  pod?: string;
  /** targetRef.namespace, if given: checked against that pod's namespace */
  podNamespace?: string;
  /** nodeName, if given: checked against the node of that pod */
  node?: string;
  /** hostname, if given: the endpoint's DNS name under a headless Service */
  hostname?: string;
}

/** A Service checked field by field, before addresses and ports are allocated. */
export interface ServiceSpec {
  name: string;
  namespace: string;
  type: ServiceType;
  clusterIP?: string;
  ports: ServicePortSpec[];
  /** undefined or empty: no endpoints from pods (Kubernetes treats `selector: {}` as none) */
  selector?: Record<string, string>;
  sessionAffinity: SessionAffinity;
  sessionAffinityTimeoutSeconds: number;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  externalIPs: string[];
  loadBalancerIP?: string;
  /** type ExternalName: the name the cluster DNS answers with a CNAME (no ClusterIP, no frontend) */
  externalName?: string;
  /** from EndpointSlices (manifests.ts); only for a Service without a selector */
  endpoints?: EndpointSpec[];
}

export interface ServicePortPlan extends ServicePortSpec {}

export interface EndpointPlan {
  pod: string;
  node: string;
  ip: string;
  ready: boolean;
  /** the pod's `hostname`, when its `subdomain` names this Service (as the endpoint controller sets it; DNS: <hostname>.<service>...) */
  hostname?: string;
  /**
   * the Service's named targetPorts this pod has, by "name/PROTOCOL" (pod-ports.ts
   * endpointTargetPort): present when the Service names any; a name missing
   * here makes the pod no endpoint for that Service port
   */
  targetPorts?: Record<string, number>;
}

/** A LoadBalancer Service's status: the address it answers at (status.loadBalancer.ingress[0].ip), or why it has none (load-balancer.ts). */
export type LoadBalancerStatus = { ip: string; pending?: undefined } | { ip?: undefined; pending: string };

export interface ServicePlan extends Omit<ServiceSpec, 'clusterIP' | 'endpoints'> {
  /** an address of serviceCIDR; HEADLESS ("None") for a headless Service; "" for an ExternalName one */
  clusterIP: string;
  /** type LoadBalancer: its address (loadBalancerIP, or one of cluster.loadBalancerPool), or why it is pending */
  loadBalancer?: LoadBalancerStatus;
  ports: ServicePortPlan[];
  /** sorted by pod name */
  endpoints: EndpointPlan[];
}

/** What allocation needs of the lab plan. */
export interface ServiceContext {
  serviceCIDR: string;
  nodes: Pick<NodePlan, 'name' | 'pods'>[];
}

/**
 * A lab's Service table sizes (cluster.serviceCapacity, cluster.serviceMaxBackends):
 * the data plane sets its Service tables aside once, at `up`, so what
 * `podwire apply` may add later must fit them. Frontends are Service ports
 * (each ClusterIP:port/protocol); backends are one frontend's ready endpoints.
 * Each node's table costs about capacity x (8 + 8 x maxBackends) bytes
 * (2 MiB at the defaults).
 */
export const DEFAULT_SERVICE_CAPACITY = 1024;
export const DEFAULT_SERVICE_MAX_BACKENDS = 256;

/** Whether the Service has an address of its own (a frontend in the data plane): not headless, not ExternalName. */
export function hasClusterIP(s: Pick<ServicePlan, 'clusterIP' | 'type'>): boolean {
  return s.type !== 'ExternalName' && s.clusterIP !== HEADLESS && s.clusterIP !== '';
}

/** Whether `services` fit a lab's Service tables; problems name the Service and the setting to raise. */
export function checkServiceCapacity(services: ServicePlan[], capacity: number, maxBackends: number, problems: string[]): void {
  const frontends = services.reduce((n, s) => n + (hasClusterIP(s) ? s.ports.length : 0), 0);
  if (frontends > capacity) {
    problems.push(`${frontends} Service ports (frontends) do not fit cluster.serviceCapacity ${capacity}: raise it in the topology file (it is fixed at up)`);
  }
  for (const s of services) {
    const ready = s.endpoints.reduce((n, e) => n + (e.ready ? 1 : 0), 0);
    if (ready > maxBackends) {
      problems.push(`${serviceLabel(s)}: ${ready} ready endpoints, more than cluster.serviceMaxBackends ${maxBackends}: raise it in the topology file (it is fixed at up)`);
    }
  }
}

/** The cluster DNS Service address: the 10th address of serviceCIDR (10.96.0.10). */
export function dnsServiceIP(serviceCIDR: string | Cidr): string {
  const c = typeof serviceCIDR === 'string' ? parseCidr(serviceCIDR, 'serviceCIDR') : serviceCIDR;
  if (c.prefixLen > 28) throw new Error(`serviceCIDR ${c.text} is too small to hold the cluster DNS address (its 10th address): use a /28 or larger`);
  return nthAddress(c, DNS_OFFSET);
}

export function serviceFqdn(svc: { name: string; namespace: string }): string {
  return `${svc.name}.${svc.namespace}.svc.cluster.local`;
}

/** How messages name a service: "service web", or "service shop/web" outside the default namespace. */
export function serviceLabel(svc: { name: string; namespace: string }): string {
  return svc.namespace === 'default' ? `service ${svc.name}` : `service ${svc.namespace}/${svc.name}`;
}

/**
 * Validate the topology's `services:` list and allocate ClusterIPs, nodePorts
 * and endpoints. Throws a TopologyError listing every problem.
 */
export function planServices(rawServices: unknown, plan: ServiceContext, source = 'services'): ServicePlan[] {
  const problems: string[] = [];
  const specs = parseServiceList(rawServices, problems);
  const services = allocateServices(specs, plan, problems);
  if (problems.length) throw new TopologyError(problems, source);
  return services;
}

/** The topology's `services:` list, each entry checked (problems recorded, bad entries dropped). */
export function parseServiceList(raw: unknown, problems: string[]): ServiceSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) { problems.push('services: expected a list'); return []; }
  const out: ServiceSpec[] = [];
  raw.forEach((s, i) => {
    if (!isObject(s)) { problems.push(`services[${i}]: expected a mapping with "name" and "ports"`); return; }
    unknownKeys(s, SERVICE_KEYS, `services[${i}].`, problems);
    const nameOk = typeof s.name === 'string' && isServiceName(s.name);
    if (!nameOk) problems.push(`services[${i}].name: ${JSON.stringify(s.name)} is not a valid Service name (lowercase letters, digits, "-", starting with a letter, at most 63)`);
    const namespace = s.namespace === undefined ? 'default' : s.namespace;
    const nsOk = typeof namespace === 'string' && isNamespace(namespace);
    if (!nsOk) problems.push(`services[${i}].namespace: ${JSON.stringify(namespace)} is not a valid namespace (lowercase letters, digits, "-", at most 63)`);
    const where = nameOk && nsOk ? serviceLabel({ name: s.name as string, namespace: namespace as string }) : `services[${i}]`;
    const spec = readServiceSpec(s, `${where}: `, '', problems, true);
    if (nameOk && nsOk && spec) out.push({ name: s.name as string, namespace: namespace as string, ...spec });
  });
  return out;
}

/**
 * The spec fields of one Service. `label` prefixes every message ("service
 * web: "), `root` every field path ("spec." in a manifest). Returns undefined
 * (problems recorded) when a field is unusable. With `keysChecked` the
 * caller has already checked `obj`'s keys.
 */
export function readServiceSpec(obj: Record<string, unknown>, label: string, root: string, problems: string[], keysChecked = false): Omit<ServiceSpec, 'name' | 'namespace'> | undefined {
  const before = problems.length;
  const p = (field: string, msg: string) => problems.push(`${label}${root}${field}: ${msg}`);
  if (!keysChecked) for (const k of Object.keys(obj)) if (!SERVICE_SPEC_KEYS.includes(k) && !EXPORTED_SPEC_KEYS.includes(k)) p(k, `unknown key (known: ${SERVICE_SPEC_KEYS.join(', ')})`);

  const type = oneOf(obj.type, 'ClusterIP', SERVICE_TYPES, 'type', 'Service type', p);
  let clusterIP: string | undefined;
  if (obj.clusterIP !== undefined) {
    if (obj.clusterIP === HEADLESS) clusterIP = HEADLESS;
    else clusterIP = ipv4(obj.clusterIP, 'clusterIP', p);
  }
  // clusterIPs (as kubectl exports it): its first entry is clusterIP; a second would be the IPv6 one
  if (obj.clusterIPs !== undefined) {
    const ips = obj.clusterIPs;
    if (!Array.isArray(ips) || ips.length === 0) p('clusterIPs', 'expected a list like [10.96.0.1]');
    else if (ips[0] === HEADLESS) { if (obj.clusterIP !== undefined && obj.clusterIP !== HEADLESS) p('clusterIPs[0]', `"None" differs from clusterIP ${JSON.stringify(obj.clusterIP)}`); else clusterIP = HEADLESS; }
    else if (ips.length > 1) p('clusterIPs', `${JSON.stringify(ips)}: podwire models IPv4 single-stack Services only (one clusterIP)`);
    else if (obj.clusterIP !== undefined && ips[0] !== obj.clusterIP) p('clusterIPs[0]', `${JSON.stringify(ips[0])} differs from clusterIP ${JSON.stringify(obj.clusterIP)}`);
    else if (obj.clusterIP === undefined) clusterIP = ipv4(ips[0], 'clusterIPs[0]', p);
  }
  if (obj.ipFamilies !== undefined && (!Array.isArray(obj.ipFamilies) || obj.ipFamilies.length !== 1 || obj.ipFamilies[0] !== 'IPv4')) {
    p('ipFamilies', `${JSON.stringify(obj.ipFamilies)}: podwire models IPv4 only (ipFamilies: [IPv4])`);
  }
  if (obj.ipFamilyPolicy !== undefined) {
    const pol = oneOf(obj.ipFamilyPolicy, 'SingleStack', IP_FAMILY_POLICIES, 'ipFamilyPolicy', 'IP family policy', p);
    if (pol === 'RequireDualStack') p('ipFamilyPolicy', 'RequireDualStack: podwire models IPv4 single-stack Services only');
  }
  if (obj.allocateLoadBalancerNodePorts !== undefined && typeof obj.allocateLoadBalancerNodePorts !== 'boolean') {
    p('allocateLoadBalancerNodePorts', 'expected true or false');
  }

  const headless = clusterIP === HEADLESS;
  let externalName: string | undefined;
  if (type === 'ExternalName') {
    // as the API server: a DNS-1123 subdomain, no ClusterIP of any kind
    if (typeof obj.externalName !== 'string' || !isDnsSubdomain(obj.externalName.replace(/\.$/, ''))) p('externalName', `${JSON.stringify(obj.externalName)} is not a DNS name (lowercase labels of letters, digits and "-", at most 253 characters); type ExternalName requires one`);
    else externalName = obj.externalName.replace(/\.$/, '');
    if (obj.clusterIP !== undefined || obj.clusterIPs !== undefined) p('clusterIP', 'may not be set for ExternalName Services');
    if (obj.selector !== undefined) p('selector', 'an ExternalName Service has no endpoints: no selector');
  } else if (obj.externalName !== undefined) p('externalName', 'only an ExternalName Service has an externalName');
  if (headless && type !== 'ClusterIP') p('clusterIP', `"None" (headless) requires type ClusterIP, not ${type}`);

  const ports: ServicePortSpec[] = [];
  // headless and ExternalName Services may have no ports (no frontend is made from them)
  if ((headless || type === 'ExternalName') && (obj.ports === undefined || (Array.isArray(obj.ports) && obj.ports.length === 0))) {
    // no ports: fine
  } else if (!Array.isArray(obj.ports) || obj.ports.length === 0) {
    p('ports', 'expected a list with at least one port');
  } else {
    const seen = new Map<string, number>();
    const names = new Map<string, number>();
    obj.ports.forEach((raw, j) => {
      const f = `ports[${j}]`;
      if (!isObject(raw)) { p(f, 'expected a mapping like { port: 80, targetPort: 8080 }'); return; }
      for (const k of Object.keys(raw)) if (!SERVICE_PORT_KEYS.includes(k) && !IGNORED_PORT_KEYS.includes(k)) p(`${f}.${k}`, `unknown key (known: ${SERVICE_PORT_KEYS.join(', ')})`);
      let name: string | undefined;
      if (raw.name !== undefined) {
        if (typeof raw.name !== 'string' || !isPortName(raw.name)) p(`${f}.name`, `${JSON.stringify(raw.name)} is not a valid port name (lowercase letters, digits, "-", at most 15)`);
        else {
          name = raw.name;
          if (names.has(name)) p(`${f}.name`, `"${name}" is already the name of ports[${names.get(name)}]`);
          names.set(name, j);
        }
      } else if ((obj.ports as unknown[]).length > 1) {
        p(`${f}.name`, 'required when a Service has more than one port');
      }
      const port = portNumber(raw.port, `${f}.port`, p, true);
      let targetPort: number | string | undefined = port;
      if (typeof raw.targetPort === 'string') {
        // a name: resolved per backend pod, against the pods' container ports (as the endpoint controller does)
        if (isIanaSvcName(raw.targetPort)) targetPort = raw.targetPort;
        else p(`${f}.targetPort`, `${JSON.stringify(raw.targetPort)} is neither a port number nor a valid port name (IANA_SVC_NAME: 1-15 lowercase letters, digits and "-", at least one letter, no "-" at either end or twice in a row)`);
      } else if (raw.targetPort !== undefined) {
        targetPort = portNumber(raw.targetPort, `${f}.targetPort`, p, false);
      }
      const protocol = oneOf(raw.protocol, 'TCP', PROTOCOLS, `${f}.protocol`, 'protocol', p);
      let nodePort: number | undefined;
      if (raw.nodePort !== undefined) {
        if (type === 'ClusterIP' || type === 'ExternalName') p(`${f}.nodePort`, 'only a NodePort or LoadBalancer Service has nodePorts');
        else if (typeof raw.nodePort !== 'number' || !Number.isInteger(raw.nodePort) || raw.nodePort < NODE_PORT_MIN || raw.nodePort > NODE_PORT_MAX) {
          p(`${f}.nodePort`, `${JSON.stringify(raw.nodePort)} is not an integer in [${NODE_PORT_MIN}, ${NODE_PORT_MAX}]`);
        } else nodePort = raw.nodePort;
      }
      if (port !== undefined && targetPort !== undefined && protocol !== undefined) {
        const key = `${port}/${protocol}`;
        if (seen.has(key)) p(f, `port ${key} is already ports[${seen.get(key)}]`);
        seen.set(key, j);
        ports.push({ ...(name !== undefined ? { name } : {}), port, targetPort, protocol, ...(nodePort !== undefined ? { nodePort } : {}) });
      }
    });
  }

  let selector: Record<string, string> | undefined;
  if (obj.selector !== undefined) {
    if (!isObject(obj.selector) || Object.values(obj.selector).some((v) => typeof v !== 'string')) {
      p('selector', 'expected a mapping of label names to strings, like { app: web }');
    } else selector = obj.selector as Record<string, string>;
  }

  const sessionAffinity = oneOf(obj.sessionAffinity, 'None', SESSION_AFFINITIES, 'sessionAffinity', 'session affinity', p);
  let sessionAffinityTimeoutSeconds = DEFAULT_AFFINITY_TIMEOUT;
  const cfg = obj.sessionAffinityConfig;
  if (cfg !== undefined) {
    const known = 'sessionAffinityConfig';
    if (sessionAffinity === 'None') p(known, 'only allowed with sessionAffinity ClientIP');
    else if (!isObject(cfg) || Object.keys(cfg).some((k) => k !== 'clientIP') || (cfg.clientIP !== undefined && (!isObject(cfg.clientIP) || Object.keys(cfg.clientIP).some((k) => k !== 'timeoutSeconds')))) {
      p(known, 'expected { clientIP: { timeoutSeconds: N } }');
    } else if (isObject(cfg.clientIP) && cfg.clientIP.timeoutSeconds !== undefined) {
      const t = cfg.clientIP.timeoutSeconds;
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_AFFINITY_TIMEOUT) {
        p(`${known}.clientIP.timeoutSeconds`, `${JSON.stringify(t)} is not an integer in [1, ${MAX_AFFINITY_TIMEOUT}]`);
      } else sessionAffinityTimeoutSeconds = t;
    }
  }

  const externalIPs: string[] = [];
  if (obj.externalIPs !== undefined) {
    if (!Array.isArray(obj.externalIPs)) p('externalIPs', 'expected a list of IPv4 addresses');
    else obj.externalIPs.forEach((v, j) => { const ip = ipv4(v, `externalIPs[${j}]`, p); if (ip) externalIPs.push(ip); });
  }
  const externalTrafficPolicy = oneOf(obj.externalTrafficPolicy, 'Cluster', TRAFFIC_POLICIES, 'externalTrafficPolicy', 'traffic policy', p);
  if (obj.externalTrafficPolicy !== undefined && type === 'ClusterIP' && externalIPs.length === 0) {
    p('externalTrafficPolicy', 'only applies to NodePort and LoadBalancer Services, or to externalIPs');
  }
  const internalTrafficPolicy = oneOf(obj.internalTrafficPolicy, 'Cluster', TRAFFIC_POLICIES, 'internalTrafficPolicy', 'traffic policy', p);
  let loadBalancerIP: string | undefined;
  if (obj.loadBalancerIP !== undefined) {
    if (type !== undefined && type !== 'LoadBalancer') p('loadBalancerIP', 'only a LoadBalancer Service has a loadBalancerIP');
    else loadBalancerIP = ipv4(obj.loadBalancerIP, 'loadBalancerIP', p);
  }

  if (problems.length > before) return undefined;
  return {
    type: type!, ...(clusterIP ? { clusterIP } : {}), ports, ...(selector ? { selector } : {}),
    sessionAffinity: sessionAffinity!, sessionAffinityTimeoutSeconds,
    externalTrafficPolicy: externalTrafficPolicy!, internalTrafficPolicy: internalTrafficPolicy!,
    externalIPs, ...(loadBalancerIP ? { loadBalancerIP } : {}), ...(externalName ? { externalName } : {}),
  };
}

/**
 * Checks across Services and allocation, as kube-apiserver and the endpoint
 * controller do: unique names per namespace, ClusterIPs from serviceCIDR in
 * address order (skipping the network address, the DNS address and the
 * broadcast address), nodePorts from 30000 up, endpoints from the selector.
 * Problems are recorded; services with problems are left out of the result.
 *
 * `existing`: the Services a running lab already has (`podwire apply`). A
 * spec naming one of them (same namespace and name) keeps its ClusterIP and
 * nodePorts (matched by port and protocol) unless it gives others; every
 * address and nodePort an existing Service holds that is not among `specs`
 * stays reserved, so a new Service never gets one. Kept allocations are
 * claimed before newly given ones, so a conflict is blamed on the newcomer.
 * The result holds only `specs`' Services (the caller merges).
 */
export function allocateServices(specs: ServiceSpec[], ctx: ServiceContext, problems: string[], existing: ServicePlan[] = []): ServicePlan[] {
  const cidr = parseCidr(ctx.serviceCIDR, 'cluster.serviceCIDR');
  const dns = cidr.prefixLen <= 28 ? dnsServiceIP(cidr) : undefined;
  const bad = new Set<ServiceSpec>();
  const flag: Flag = (s, msg) => { problems.push(`${serviceLabel(s)}: ${msg}`); bad.add(s); };

  const inherited = inheritAllocations(specs, existing);
  specs = inherited.specs;
  const { kept } = inherited;
  const names = new Set<string>();
  for (const s of specs) {
    const key = `${s.namespace}/${s.name}`;
    if (names.has(key)) flag(s, `duplicate Service name "${s.name}" in namespace ${s.namespace}`);
    names.add(key);
  }

  // explicit claims first, kept ones before newly given ones (a conflict is the newcomer's)
  const ips = new ClusterIpAllocator(cidr, dns, inherited.reservedIp, serviceLabel);
  for (const s of [...specs.filter((x) => kept.get(x)?.clusterIP), ...specs.filter((x) => !kept.get(x)?.clusterIP)]) {
    if (s.clusterIP && s.clusterIP !== HEADLESS) ips.claim(s, s.clusterIP, flag);
  }
  const nodePorts = new NodePortAllocator(inherited.reservedPort, serviceLabel);
  const claims = specs.flatMap((s) => s.ports.map((pt, j) => ({ s, pt, j, kept: kept.get(s)?.nodePorts[j] !== undefined })));
  for (const { s, pt, j } of [...claims.filter((c) => c.kept), ...claims.filter((c) => !c.kept)]) {
    if (pt.nodePort !== undefined) nodePorts.claim(s, j, pt.nodePort, pt.protocol, flag);
  }

  const pods = ctx.nodes.flatMap((n) => n.pods.map((p) => ({ ...p, node: n.name })));
  const podByIp = new Map(pods.map((p) => [p.ip, p]));
  const out: ServicePlan[] = [];
  for (const s of specs) {
    if (bad.has(s)) continue;
    // headless and ExternalName Services get no address (kube-apiserver allocates none)
    const clusterIP = s.type === 'ExternalName' ? '' : s.clusterIP ?? ips.next(s, flag);
    if (clusterIP === undefined) continue;
    const ports: ServicePortPlan[] = [];
    for (const pt of s.ports) {
      if (s.type === 'ClusterIP' || s.type === 'ExternalName' || pt.nodePort !== undefined) { ports.push({ ...pt }); continue; }
      const nodePort = nodePorts.next(s, pt.protocol, flag);
      if (nodePort === undefined) break;
      ports.push({ ...pt, nodePort });
    }
    if (bad.has(s)) continue;
    const endpoints = selectEndpoints(s, pods, podByIp, flag);
    if (!endpoints) continue;
    const { endpoints: _explicit, ...rest } = s;
    out.push({ ...rest, clusterIP, ports, endpoints });
  }
  return out;
}

// ---- helpers ----

// DNS-1035 label: Service names must start with a letter
const SERVICE_NAME_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
// DNS-1123 label
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// IANA_SVC_NAME as Kubernetes checks port names
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isServiceName(s: string): boolean { return SERVICE_NAME_RE.test(s) && s.length <= 63; }
export function isNamespace(s: string): boolean { return NAMESPACE_RE.test(s) && s.length <= 63; }
/** DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters (an ExternalName's externalName) */
export function isDnsSubdomain(s: string): boolean { return s.length <= 253 && s.split('.').every((l) => NAMESPACE_RE.test(l) && l.length <= 63); }
function isPortName(s: string): boolean { return PORT_NAME_RE.test(s) && s.length <= 15 && /[a-z]/.test(s); }

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function unknownKeys(obj: Record<string, unknown>, known: string[], where: string, problems: string[]): void {
  for (const k of Object.keys(obj)) if (!known.includes(k)) problems.push(`${where}${k}: unknown key (known: ${known.join(', ')})`);
}
function oneOf<T extends string>(v: unknown, dflt: T, allowed: readonly T[], field: string, what: string, p: (f: string, m: string) => void): T | undefined {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) { p(field, `unknown ${what} ${JSON.stringify(v)} (expected one of ${allowed.join(', ')})`); return undefined; }
  return v as T;
}
function portNumber(v: unknown, field: string, p: (f: string, m: string) => void, required: boolean): number | undefined {
  if (v === undefined && required) { p(field, 'required'); return undefined; }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) { p(field, `${JSON.stringify(v)} is not an integer in [1, 65535]`); return undefined; }
  return v;
}
function ipv4(v: unknown, field: string, p: (f: string, m: string) => void): string | undefined {
  try {
    if (typeof v !== 'string') throw new Error();
    ipv4ToInt(v);
    return v;
  } catch {
    p(field, `${JSON.stringify(v)} is not an IPv4 address`);
    return undefined;
  }
}
