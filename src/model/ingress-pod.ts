// The Ingress controller in the plan, as ingress-nginx deploys it: a pod
// `ingress-nginx-controller` in namespace `ingress-nginx`, behind a Service
// of the same name, type LoadBalancer, ports 80 (http) and 443 (https).
// `cluster.ingress: nginx` turns it on. The pod is placed like the cluster
// DNS pod (dns.ts): on the first podwire node with a free address, after
// every user pod and after the DNS pod, so no other address moves. The
// Ingress objects the controller serves (topology `ingresses:`, later
// `podwire apply`) live in the plan beside it. Pure: nginx runs in
// src/lab/ingress.ts.
import { nthAddress, podCapacity, parseCidr } from './cidr.ts';
import { macForIp } from './addr.ts';
import { isObject } from './fields.ts';
import { allocateServices, DEFAULT_AFFINITY_TIMEOUT, TRAFFIC_POLICIES, type ServicePlan, type ServiceSpec, type TrafficPolicy } from './services.ts';
import { parseIngressList, checkIngressReferences, type IngressClassSpec, type IngressSpec, type Located, type TlsSecret } from './ingress.ts';
import type { DnsPlan } from './dns.ts';
import type { NodePlan } from './topology-types.ts';

export const INGRESS_CONTROLLERS = ['nginx'] as const;
export type IngressControllerKind = (typeof INGRESS_CONTROLLERS)[number];
/** Names as the ingress-nginx manifests give them. */
export const INGRESS_NAMESPACE = 'ingress-nginx';
export const INGRESS_POD_NAME = 'ingress-nginx-controller';
export const INGRESS_SERVICE_NAME = 'ingress-nginx-controller';
export const INGRESS_POD_LABELS = { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' };
export const INGRESS_HTTP_PORT = 80;
export const INGRESS_HTTPS_PORT = 443;
/** The cluster: keys this file reads (topology-parse.ts lists them as known). */
export const INGRESS_CLUSTER_KEYS = ['ingress', 'ingressExternalTrafficPolicy', 'ingressLoadBalancerIP'];

/** The Ingress objects of a lab: what the controller renders nginx.conf from. */
export interface IngressObjects {
  ingresses: Located<IngressSpec>[];
  /** IngressClasses besides the built-in `nginx` one */
  classes: IngressClassSpec[];
  secrets: TlsSecret[];
}

export interface IngressPodPlan {
  controller: IngressControllerKind;
  /** the node the controller pod runs on */
  node: string;
  pod: { name: string; k8sNamespace: string; ip: string; prefixLen: number; mac: string; gateway: string; mtu: number; port: number };
}

/** cluster.ingress* as written. */
export interface IngressClusterInput {
  controller?: IngressControllerKind;
  externalTrafficPolicy: TrafficPolicy;
  loadBalancerIP?: string;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Read cluster.ingress, cluster.ingressExternalTrafficPolicy and cluster.ingressLoadBalancerIP of a topology document. */
export function readIngressCluster(doc: unknown, problems: string[]): IngressClusterInput {
  const c = isObject(doc) && isObject(doc.cluster) ? doc.cluster : {};
  const out: IngressClusterInput = { externalTrafficPolicy: 'Cluster' };
  if (c.ingress !== undefined && c.ingress !== false && c.ingress !== null) {
    if (!INGRESS_CONTROLLERS.includes(c.ingress as IngressControllerKind)) problems.push(`cluster.ingress: ${JSON.stringify(c.ingress)} is not a known controller (one of ${INGRESS_CONTROLLERS.join(', ')})`);
    else out.controller = c.ingress as IngressControllerKind;
  }
  if (c.ingressExternalTrafficPolicy !== undefined) {
    if (!TRAFFIC_POLICIES.includes(c.ingressExternalTrafficPolicy as TrafficPolicy)) problems.push(`cluster.ingressExternalTrafficPolicy: ${JSON.stringify(c.ingressExternalTrafficPolicy)} is not one of ${TRAFFIC_POLICIES.join(', ')}`);
    else out.externalTrafficPolicy = c.ingressExternalTrafficPolicy as TrafficPolicy;
  }
  if (c.ingressLoadBalancerIP !== undefined) {
    if (typeof c.ingressLoadBalancerIP !== 'string' || !IPV4_RE.test(c.ingressLoadBalancerIP)) problems.push(`cluster.ingressLoadBalancerIP: ${JSON.stringify(c.ingressLoadBalancerIP)} is not an IPv4 address`);
    else out.loadBalancerIP = c.ingressLoadBalancerIP;
  }
  const needs = (k: string) => problems.push(`cluster.${k}: set cluster.ingress: nginx too (there is no controller Service without it)`);
  if (!out.controller) {
    if (c.ingressExternalTrafficPolicy !== undefined) needs('ingressExternalTrafficPolicy');
    if (c.ingressLoadBalancerIP !== undefined) needs('ingressLoadBalancerIP');
  }
  return out;
}

/** Is this the controller's own Service (refused in `services:`, `podwire apply` and `delete` while the controller runs)? */
export function isIngressControllerService(s: { namespace: string; name: string }): boolean {
  return s.namespace === INGRESS_NAMESPACE && s.name === INGRESS_SERVICE_NAME;
}

/** Names the controller takes, refused for user objects while it is on. */
export function ingressNameProblems(services: { namespace: string; name: string }[], pods: { k8sNamespace: string; name: string; node: string }[], problems: string[]): void {
  for (const s of services) {
    if (isIngressControllerService(s)) problems.push(`service ${INGRESS_NAMESPACE}/${INGRESS_SERVICE_NAME}: the name is the Ingress controller's Service (cluster.ingress); its type is LoadBalancer, its policy cluster.ingressExternalTrafficPolicy, its address cluster.ingressLoadBalancerIP`);
  }
  for (const p of pods) {
    if (p.k8sNamespace === INGRESS_NAMESPACE && p.name === INGRESS_POD_NAME) problems.push(`node ${p.node}: pod ${INGRESS_NAMESPACE}/${INGRESS_POD_NAME} is the Ingress controller's pod (cluster.ingress): rename the pod`);
  }
}

/**
 * Place the controller pod: the first podwire node with an address left
 * after its pods and, on the DNS pod's node, after the DNS pod.
 */
export function placeIngressPod(nodes: NodePlan[], dns: DnsPlan | undefined, podMtu: number, controller: IngressControllerKind): IngressPodPlan | undefined {
  const taken = (n: NodePlan) => n.pods.length + (dns?.node === n.name ? 1 : 0);
  const node = nodes.find((n) => n.dataplane === 'podwire' && taken(n) < podCapacity(parseCidr(n.podCIDR, n.podCIDR)));
  if (!node) return undefined;
  const cidr = parseCidr(node.podCIDR, node.podCIDR);
  const port = taken(node);
  const ip = nthAddress(cidr, port + 2);
  return {
    controller, node: node.name,
    pod: { name: INGRESS_POD_NAME, k8sNamespace: INGRESS_NAMESPACE, ip, prefixLen: cidr.prefixLen, mac: macForIp(ip), gateway: node.gateway, mtu: podMtu, port },
  };
}

/** The controller Service as ingress-nginx's manifests write it: LoadBalancer, 80 http and 443 https to the same ports of the pod. */
export function ingressControllerServiceSpec(c: IngressClusterInput): ServiceSpec {
  return {
    name: INGRESS_SERVICE_NAME, namespace: INGRESS_NAMESPACE, type: 'LoadBalancer',
    ports: [
      { name: 'http', port: INGRESS_HTTP_PORT, targetPort: INGRESS_HTTP_PORT, protocol: 'TCP' },
      { name: 'https', port: INGRESS_HTTPS_PORT, targetPort: INGRESS_HTTPS_PORT, protocol: 'TCP' },
    ],
    sessionAffinity: 'None', sessionAffinityTimeoutSeconds: DEFAULT_AFFINITY_TIMEOUT,
    externalTrafficPolicy: c.externalTrafficPolicy, internalTrafficPolicy: 'Cluster', externalIPs: [],
    ...(c.loadBalancerIP ? { loadBalancerIP: c.loadBalancerIP } : {}),
  };
}

/** The controller's part of a plan: its pod, its Service (ClusterIP and nodePorts allocated past `existing`) and the topology's Ingresses. */
export interface PlannedIngress { ingress?: IngressPodPlan; service?: ServicePlan; objects?: IngressObjects }

/**
 * planTopology's ingress pass: read cluster.ingress* and `ingresses:` of the
 * document, check the Ingresses' references against the user's Services,
 * place the pod, allocate the Service.
 */
export function planIngress(doc: unknown, nodes: NodePlan[], dns: DnsPlan | undefined, podMtu: number, serviceCIDR: string, existing: ServicePlan[], problems: string[]): PlannedIngress {
  const c = readIngressCluster(doc, problems);
  const ingresses = parseIngressList(isObject(doc) ? doc.ingresses : undefined, problems);
  if (!c.controller) {
    if (ingresses.length) problems.push('ingresses: no Ingress controller runs them: set cluster.ingress: nginx');
    return {};
  }
  // a backend naming a missing Service or port, a tls naming a Secret (none exist at up): refused before anything is created
  checkIngressReferences(ingresses, existing, [], problems);
  ingressNameProblems(existing, nodes.flatMap((n) => n.pods.map((p) => ({ ...p, node: n.name }))), problems);
  const ingress = placeIngressPod(nodes, dns, podMtu, c.controller);
  if (!ingress) {
    problems.push(nodes.some((n) => n.dataplane === 'podwire')
      ? 'cluster.ingress: no podwire node has a pod address left for the Ingress controller pod'
      : 'cluster.ingress: the Ingress controller pod runs on a podwire node, and this lab has kernel nodes only');
    return {};
  }
  const [planned] = allocateServices([ingressControllerServiceSpec(c)], { serviceCIDR, nodes }, problems, existing);
  if (!planned) return {};
  const service: ServicePlan = { ...planned, endpoints: [{ pod: INGRESS_POD_NAME, node: ingress.node, ip: ingress.pod.ip, ready: true }] };
  return { ingress, service, objects: { ingresses, classes: [], secrets: [] } };
}

/** The controller Service's external address, as `status` shows it: its load-balancer IP (given, or from the pool: load-balancer.ts), or undefined (pending). */
export function loadBalancerAddress(svc: Pick<ServicePlan, 'loadBalancerIP' | 'loadBalancer'> | undefined): string | undefined {
  return svc?.loadBalancer ? svc.loadBalancer.ip : svc?.loadBalancerIP;
}
