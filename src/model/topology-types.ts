// The plan's shape: what planTopology decides and the rest of podwire reads
// (types and the fixed choices a topology may name). No logic beyond names.
import type { ServicePlan } from './services.ts';
import type { DnsPlan } from './dns.ts';
import type { NamespacePlan } from './namespaces.ts';
import type { ContainerPort } from './pod-ports.ts';
import type { ExternalHostPlan } from './external-hosts.ts';
import type { IngressObjects, IngressPodPlan } from './ingress-pod.ts';
import type { NetworkPolicySpec } from './network-policy.ts';
import type { NetemSpec } from './netem.ts';

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
  /** the Linux network namespace: pw-<name> in Kubernetes namespace default, pw-<name>_<k8sNamespace> elsewhere (namespaces.ts podNetns) */
  namespace: string;
  /** the Kubernetes namespace (topology `namespace:`, default "default") */
  k8sNamespace: string;
  /** named container ports, when the pod declares any (a Service's targetPort may name one) */
  ports?: ContainerPort[];
  /** spec.hostname / spec.subdomain: a headless Service named `subdomain` gives it <hostname>.<subdomain>.<ns>.svc.cluster.local */
  hostname?: string;
  subdomain?: string;
  /** the impairment of frames the data plane sends to the pod (netem.ts); `podwire netem set|clear` changes it live */
  netem?: NetemSpec;
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
  /** nodes[].maxPods (default 110): the node's pod ports, fixed at up; absent in plans saved before it */
  maxPods?: number;
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
  /** Kubernetes namespaces: the topology's `namespaces:`, then those only named by pods and Services (implicit) */
  namespaces?: NamespacePlan[];
  /** NetworkPolicies: the topology's `networkPolicies:`, then those `podwire apply` adds (network-policy.ts) */
  networkPolicies?: NetworkPolicySpec[];
  /** the topology's `services:`, with ClusterIPs, nodePorts and endpoints decided */
  services: ServicePlan[];
  /** the cluster DNS Service address: the 10th address of serviceCIDR (10.96.0.10) */
  dnsIP: string;
  /** the cluster DNS pod (src/model/dns.ts); absent with cluster.dns: false or without a podwire node */
  dns?: DnsPlan;
  /** the Ingress controller pod (cluster.ingress, src/model/ingress-pod.ts), and the Ingress objects it serves */
  ingress?: IngressPodPlan;
  ingressObjects?: IngressObjects;
  /** each podwire node's Service tables, fixed at up (what `podwire apply` can grow to): frontends, and backends per frontend (services.ts DEFAULT_SERVICE_*) */
  serviceCapacity?: number;
  serviceMaxBackends?: number;
  /** each podwire node's NetworkPolicy tables, fixed at up: pod addresses and allow entries (cluster.policyCapacity) */
  policyCapacity?: number;
  /** how new flows choose a Service backend on podwire nodes: seeded random (kube-proxy's iptables/nftables modes) or Maglev (IPVS's "mh") */
  serviceScheduler?: ServiceScheduler;
  /** cluster.loadBalancerPool: addresses for type LoadBalancer Services, inside underlayCIDR (load-balancer.ts) */
  loadBalancerPool?: string;
  /** hosts outside the cluster, on the underlay (external-hosts.ts) */
  external?: ExternalHostPlan[];
  /**
   * `podwire up --node NAME` (selectHostNode): this process runs only that
   * node; the others run on other hosts, reached over the hosts' network
   */
  hostNode?: string;
  /** `links:` between nodes; an impaired one (netem) is on the in-process underlay between podwire nodes (links.ts) */
  links?: LinkPlan[];
  /**
   * With a shared store (`--store`): nodes of the topology that hold no live
   * lease there (not started, or their host died). No route leads to them
   * and their pods are no Service endpoints until they come (back).
   */
  absentNodes?: string[];
}

/** A node-to-node link and its impairment (both directions); `podwire netem set|clear A:B` changes it live. */
export interface LinkPlan { between: [string, string]; netem?: NetemSpec }

// DNS-1123 label, as Kubernetes requires for pod and node names
export const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// netns names have no hard limit, but pod names double as interface-ish labels in output; keep k8s' 63
export const MAX_NAME = 63;

/** Lab, node and pod names are DNS-1123 labels (lab names also name files under the state dir). */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= MAX_NAME;
}

