// Cluster DNS in the plan, as Kubernetes does it: a DNS pod (CoreDNS's place)
// in namespace kube-system on a podwire node, and the `kube-dns` Service whose
// ClusterIP is the 10th address of serviceCIDR (plan.dnsIP), port 53/UDP, with
// that pod as its endpoint. The Service is programmed into every podwire
// node's Service NAT like any other, so queries to the ClusterIP are DNATed
// to the pod in WebAssembly. The pod is allocated after every user pod, so no
// user pod's address or port changes. Pure: no host objects here.
import { nthAddress, podCapacity, parseCidr } from './cidr.ts';
import { macForIp, isIpv4 } from './addr.ts';
import { isObject, unknownKeys } from './fields.ts';
import { DEFAULT_AFFINITY_TIMEOUT, type ServicePlan, type ServiceSpec } from './services.ts';
import type { NodePlan } from './topology.ts';

/** The DNS pod's name and Kubernetes namespace, and the Service's (as kubeadm names them). */
export const DNS_POD_NAME = 'coredns';
export const DNS_NAMESPACE = 'kube-system';
export const DNS_SERVICE_NAME = 'kube-dns';
export const DNS_PORT = 53;

/** Where names outside the cluster domain are forwarded (cluster.dns.upstream); none: REFUSED. */
export interface DnsUpstream { ip: string; port: number }

export interface DnsPlan {
  /** the kube-dns ClusterIP (plan.dnsIP) */
  ip: string;
  /** cluster.dns.upstream: the resolver names outside cluster.local go to, from the DNS pod's namespace */
  upstream?: DnsUpstream;
  /** the node the DNS pod runs on: the first podwire node with a free address */
  node: string;
  /** the DNS pod: name coredns in namespace kube-system; its network namespace is named at bring-up (src/lab/cluster-dns.ts) */
  pod: {
    name: string; k8sNamespace: string; ip: string; prefixLen: number; mac: string; gateway: string; mtu: number;
    /** its bridge port: the one after the node's last user pod */
    port: number;
  };
}

/** What `cluster.dns` asks for: on or off, and an upstream resolver. */
export interface DnsInput { on: boolean; upstream?: DnsUpstream }

/**
 * `cluster.dns`: true (default), false, or { upstream: "IP[:port]" } (on,
 * forwarding names outside cluster.local to that resolver; port 53 when
 * not given). Problems name the field.
 */
export function parseDnsInput(raw: unknown, problems: string[]): DnsInput {
  if (raw === undefined || raw === true) return { on: true };
  if (raw === false) return { on: false };
  if (!isObject(raw)) { problems.push('cluster.dns: expected true, false or { upstream: IP[:port] }'); return { on: true }; }
  unknownKeys(raw, ['upstream'], 'cluster.dns.', problems);
  if (raw.upstream === undefined) return { on: true };
  const m = typeof raw.upstream === 'string' ? /^([0-9.]+)(?::([0-9]+))?$/.exec(raw.upstream) : null;
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || !isIpv4(m[1]) || !Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`cluster.dns.upstream: ${JSON.stringify(raw.upstream)} is not IP[:port] (an IPv4 address, then optionally a port in [1, 65535])`);
    return { on: true };
  }
  return { on: true, upstream: { ip: m[1], port } };
}

/**
 * Names the cluster DNS takes, refused for user objects while it is on: a
 * Service kube-system/kube-dns, and a pod named coredns (the DNS pod's
 * name in status and in the Service's endpoints).
 */
export function clusterDnsNameProblems(services: Pick<ServiceSpec, 'name' | 'namespace'>[], podsByNode: { node: string; pods: { name: string }[] }[], problems: string[]): void {
  for (const s of services) {
    if (s.name === DNS_SERVICE_NAME && s.namespace === DNS_NAMESPACE) {
      problems.push(`service ${DNS_NAMESPACE}/${DNS_SERVICE_NAME}: the name is the cluster DNS Service's (set cluster.dns: false to define your own)`);
    }
  }
  for (const n of podsByNode) {
    for (const p of n.pods) {
      if (p.name === DNS_POD_NAME) {
        problems.push(`node ${n.node}: pod name "${DNS_POD_NAME}" is the cluster DNS pod's (namespace ${DNS_NAMESPACE}): rename the pod or set cluster.dns: false`);
      }
    }
  }
}

/**
 * Place the DNS pod: on the first podwire node whose pod CIDR has an address
 * left after its pods (the first podwire node unless that one is full).
 * Returns undefined — no cluster DNS, see clusterDnsAbsence — when the lab
 * has no podwire node (kernel nodes only) or every podwire node is full.
 */
export function planClusterDns(dnsIP: string, nodes: NodePlan[], podMtu: number, upstream?: DnsUpstream): DnsPlan | undefined {
  const node = nodes.find((n) => n.dataplane === 'podwire' && n.pods.length < podCapacity(parseCidr(n.podCIDR, n.podCIDR)));
  if (!node) return undefined;
  const cidr = parseCidr(node.podCIDR, node.podCIDR);
  const port = node.pods.length;
  const ip = nthAddress(cidr, port + 2);
  return {
    ip: dnsIP,
    ...(upstream ? { upstream } : {}),
    node: node.name,
    pod: { name: DNS_POD_NAME, k8sNamespace: DNS_NAMESPACE, ip, prefixLen: cidr.prefixLen, mac: macForIp(ip), gateway: node.gateway, mtu: podMtu, port },
  };
}

/**
 * The kube-dns Service: ClusterIP dnsIP, 53/UDP and 53/TCP (as kubeadm's
 * kube-dns Service: `dns` and `dns-tcp`) to the DNS pod. Its endpoint is explicit (no selector): the DNS pod is not
 * one of the nodes' pods, which selectors match.
 */
export function clusterDnsService(dns: DnsPlan): ServicePlan {
  return {
    name: DNS_SERVICE_NAME, namespace: DNS_NAMESPACE, type: 'ClusterIP', clusterIP: dns.ip,
    ports: [{ name: 'dns', port: DNS_PORT, targetPort: DNS_PORT, protocol: 'UDP' }, { name: 'dns-tcp', port: DNS_PORT, targetPort: DNS_PORT, protocol: 'TCP' }],
    sessionAffinity: 'None', sessionAffinityTimeoutSeconds: DEFAULT_AFFINITY_TIMEOUT,
    externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', externalIPs: [],
    endpoints: [{ pod: dns.pod.name, node: dns.node, ip: dns.pod.ip, ready: true }],
  };
}

/**
 * `services` with the kube-dns Service last (replacing any stale one), for
 * whoever re-plans a lab's Services (e.g. `podwire apply`): the DNS Service
 * is not in the topology's services: list and must not be lost.
 */
export function withClusterDnsService(services: ServicePlan[], dns: DnsPlan | undefined): ServicePlan[] {
  if (!dns) return services;
  return [...services.filter((s) => !(s.name === DNS_SERVICE_NAME && s.namespace === DNS_NAMESPACE)), clusterDnsService(dns)];
}

/** Why a plan has no cluster DNS (plan.dns undefined), in words for `podwire up` and status. */
export function clusterDnsAbsence(plan: { nodes: Pick<NodePlan, 'dataplane' | 'pods' | 'podCIDR' | 'name'>[] }): string {
  const podwire = plan.nodes.filter((n) => n.dataplane === 'podwire');
  if (podwire.length === 0) return 'kernel nodes only (the DNS pod runs on a podwire node)';
  if (podwire.every((n) => n.pods.length >= podCapacity(parseCidr(n.podCIDR, n.podCIDR)))) {
    return `no podwire node has a pod address left for the DNS pod (${podwire.map((n) => `${n.name} ${n.podCIDR}`).join(', ')} full)`;
  }
  return 'cluster.dns: false';
}
