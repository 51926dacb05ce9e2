// The running lab as `podwire status` shows it: the plan joined with the
// data plane's live counters.
import type { StoreStatus } from './store-sync.ts';
import { podLabel } from '../model/pod-refs.ts';
import { labId, localNodes, type LabPlan } from '../model/topology.ts';
import type { LoopStats, NodeStats } from '../dataplane/engine-protocol.ts';
import type { ServicePlan } from '../model/services.ts';
import type { ContainerPort } from '../model/pod-ports.ts';
import type { NamespacePlan } from '../model/namespaces.ts';
import { clusterDnsOff, type DnsStatus } from './cluster-dns.ts';
import type { DataplaneStatus } from './lab.ts';
import type { UnderlayPath } from './underlay-path.ts';
import { ingressStatus, type IngressStatus } from './ingress.ts';
import { announcingNode } from '../model/load-balancer.ts';
import type { ExternalHostPlan } from '../model/external-hosts.ts';
import { formatNetem, type NetemSpec } from '../model/netem.ts';
import type { ImpairmentStats } from '../dataplane/impairment.ts';
import type { MemoryStatus } from './memory-status.ts';
import type { Phase } from './phases.ts';

/** A pod's impairment (frames to the pod): the spec, as tc would write it, and what it did so far. */
export interface PodNetemStatus { spec: NetemSpec; text: string; stats?: ImpairmentStats }

/**
 * A Service's status as Kubernetes writes it: a LoadBalancer Service's address
 * in loadBalancer.ingress[].ip, `loadBalancer: {}` while pending; podwire adds
 * why it is pending and which node announces the address on the underlay.
 */
export interface ServiceStatus {
  loadBalancer: { ingress?: { ip: string }[] };
  pending?: string;
  announcedBy?: string;
}

export interface LabStatus {
  /** the lab's name on this host: `<lab>-<node>` with --node */
  lab: string;
  /** with --node: the node this process runs (the others run on other hosts and are not listed) */
  hostNode?: string;
  pid: number;
  startedAt: string;
  cluster: {
    clusterCIDR: string; serviceCIDR: string; overlay: string; vxlan: { vni: number; port: number };
    underlayCIDR: string; mtu: number; podMtu: number; offloads: boolean;
    /** in-process: the nodes hand underlay frames over in memory; bridge: a Linux bridge in pw-ul-<lab> (kernel nodes, external hosts) */
    underlay?: string;
    /** addresses for type LoadBalancer Services */
    loadBalancerPool?: string;
  };
  /** hosts outside the cluster on the underlay (ip netns exec NETNS ...) */
  external: ExternalHostPlan[];
  /** Kubernetes namespaces: the topology's namespaces: and those only named (implicit) */
  namespaces: NamespacePlan[];
  /** namespace: the Kubernetes namespace; netns: the Linux network namespace (ip netns exec NETNS ...) */
  pods: { name: string; namespace: string; netns: string; node: string; ip: string; mac: string; port: number; labels: Record<string, string>; ports?: ContainerPort[]; netem?: PodNetemStatus }[];
  /** the Services as planned (ClusterIP frontends are programmed on every podwire node; nodePorts are planned, not answered yet) */
  services: (Pick<ServicePlan, 'name' | 'namespace' | 'type' | 'clusterIP' | 'ports' | 'endpoints' | 'externalName'> & { status?: ServiceStatus })[];
  /** node-to-node links (`links:`, `podwire netem set A:B`): the impairment, and per direction what it did */
  links?: { between: [string, string]; netem?: PodNetemStatus; directions: { from: string; to: string; stats: ImpairmentStats }[] }[];
  /** the forwarding worker: running, restarting, failed (the lab goes down), none (kernel nodes only); restarts so far and the last failure */
  /** the forwarding worker; `loop`: what its loop did (engine-protocol.ts LoopStats) */
  dataplane?: DataplaneStatus & { loop?: LoopStats };
  /** the cluster DNS (src/lab/cluster-dns.ts): its ClusterIP, pod and counters; `{ off: why }` when the lab has none */
  dns: DnsStatus | { off: string };
  /** the Ingresses (src/lab/ingress.ts): class, hosts, the controller Service's address, rules */
  ingresses: IngressStatus[];
  nodes: {
    name: string;
    /** podwire (forwarded in WebAssembly) or kernel (Linux bridge/veth/vxlan) */
    dataplane?: 'podwire' | 'kernel';
    /** the node's underlay address, when the lab has an underlay (kernel nodes included) */
    underlayIp?: string;
    podCIDR: string;
    gateway: string;
    gatewayMac: string;
    ports: ({ port: number; pod: string } & Record<string, number | string | boolean>)[];
    drops: Record<string, number>;
    events: Record<string, number>;
    fdb: { entries: number; capacity: number; table: { mac: string; port: number; ageMs: number; static?: boolean }[] };
    /** with more than one node: the node's underlay identity and its underlay port's counters */
    underlay?: {
      ip: string; mac: string; vtepMac: string; port: number; counters: Record<string, number>; fabric: NodeStats['fabric'];
      /** how super-frames cross it (underlay-path.ts): UDP-tunnel GSO, TSO, software segmentation, in-process */
      path?: UnderlayPath;
      /** with --node: the host socket carrying the underlay, and the peers it sends to */
      socket?: NonNullable<NodeStats['socket']> & { peers: { node: string; address: string }[] };
    };
  }[];
  /** with --store: this host's view of the shared store (store-sync.ts) */
  /** with --store: what this host follows of it (policies: NetworkPolicies applied from the store, src/lab/store-policies.ts) */
  store?: StoreStatus & { policies?: number };
  /** the lab's memory (memory-status.ts) */
  memory?: MemoryStatus;
  /** how long each step of `up` took, ms (phases.ts) */
  lifecycle?: { upPhases: Phase[] };
}

export function labStatus(plan: LabPlan, pid: number, startedAt: string, stats: NodeStats[], dns?: DnsStatus, dataplane?: DataplaneStatus,
  underlayPaths: Record<string, UnderlayPath> = {}): LabStatus {
  return {
    lab: labId(plan),
    ...(plan.hostNode ? { hostNode: plan.hostNode } : {}),
    pid,
    startedAt,
    cluster: {
      clusterCIDR: plan.clusterCIDR, serviceCIDR: plan.serviceCIDR, overlay: plan.overlay, vxlan: plan.vxlan,
      underlayCIDR: plan.underlayCIDR, mtu: plan.mtu, podMtu: plan.podMtu, offloads: plan.offloads,
      underlay: (plan.external?.length ?? 0) > 0 || (plan.underlay === 'bridge' && plan.nodes.length > 1) ? 'bridge' : 'in-process',
      ...(plan.loadBalancerPool ? { loadBalancerPool: plan.loadBalancerPool } : {}),
    },
    external: (plan.external ?? []).map((h) => ({ ...h })),
    namespaces: plan.namespaces ?? [],
    pods: localNodes(plan).flatMap((n) => n.pods.map((p) => ({
      name: p.name, namespace: p.k8sNamespace, netns: p.namespace, node: n.name, ip: p.ip, mac: p.mac, port: p.port, labels: p.labels,
      ...(p.ports ? { ports: p.ports } : {}), ...(p.hostname ? { hostname: p.hostname } : {}), ...(p.subdomain ? { subdomain: p.subdomain } : {}),
      ...(p.netem ? { netem: podNetem(p.netem, stats.find((s) => s.name === n.name)?.netem?.find((x) => x.port === p.port)?.stats) } : {}),
    }))),
    services: plan.services.map((svc) => ({
      name: svc.name, namespace: svc.namespace, type: svc.type, clusterIP: svc.clusterIP,
      ...(svc.externalName ? { externalName: svc.externalName } : {}),
      ports: svc.ports.map((p) => ({ ...p })), endpoints: svc.endpoints.map((e) => ({ ...e })),
      ...(svc.type === 'LoadBalancer' ? { status: serviceStatus(svc, plan.nodes.map((n) => n.name)) } : {}),
    })),
    ...(plan.links?.length ? {
      links: plan.links.map((l) => ({
        between: l.between, ...(l.netem ? { netem: podNetem(l.netem) } : {}),
        directions: stats.flatMap((s) => (s.linkNetem ?? []).filter((d) => l.between.includes(s.name) && l.between.includes(d.to)).map((d) => ({ from: s.name, to: d.to, stats: d.stats }))),
      })),
    } : {}),
    ...(dataplane ? { dataplane: { ...dataplane, ...(stats[0]?.loop ? { loop: stats[0].loop } : {}) } } : {}),
    dns: dns ?? { off: clusterDnsOff(plan) ?? 'not reported' },
    ingresses: ingressStatus(plan),
    nodes: localNodes(plan).map((n) => {
      const s = stats.find((x) => x.name === n.name);
      return {
        name: n.name,
        dataplane: n.dataplane,
        ...(plan.nodes.length > 1 || (plan.external?.length ?? 0) > 0 ? { underlayIp: n.underlayIp } : {}),
        podCIDR: n.podCIDR,
        gateway: n.gateway,
        gatewayMac: n.gatewayMac,
        ports: n.pods.map((p) => {
          const io = s?.io.find((i) => i.port === p.port);
          return {
            port: p.port, pod: podLabel(p), ...(s?.counters.ports[p.port] ?? {}),
            tap_rx_errors: io?.rxErrors ?? 0, tap_tx_errors: io?.txErrors ?? 0, tap_gone: io?.broken ?? false,
          };
        }),
        drops: s?.counters.drops ?? {},
        events: s?.counters.events ?? {},
        fdb: { entries: s?.fdb.length ?? 0, capacity: s?.fdbCapacity ?? 0, table: s?.fdb ?? [] },
        underlay: s && s.underlayPort >= 0 ? {
          ip: n.underlayIp, mac: underlayPaths[n.name]?.wireMac ?? n.underlayMac, vtepMac: n.vtepMac, port: s.underlayPort,
          counters: s.counters.ports[s.underlayPort], fabric: s.fabric,
          ...(underlayPaths[n.name] ? { path: underlayPaths[n.name] } : {}),
          ...(s.socket ? {
            socket: { ...s.socket, peers: plan.nodes.filter((o) => o !== n).map((o) => ({ node: o.name, address: o.underlayIp })) },
          } : {}),
        } : undefined,
      };
    }),
  };
}

function podNetem(spec: NetemSpec, stats?: ImpairmentStats): PodNetemStatus {
  return { spec, text: formatNetem(spec), ...(stats ? { stats } : {}) };
}

function serviceStatus(svc: ServicePlan, nodes: string[]): ServiceStatus {
  const lb = svc.loadBalancer ?? (svc.loadBalancerIP ? { ip: svc.loadBalancerIP } : { pending: 'no address decided' });
  if (!lb.ip) return { loadBalancer: {}, pending: lb.pending };
  const by = announcingNode(svc, nodes);
  return { loadBalancer: { ingress: [{ ip: lb.ip }] }, ...(by ? { announcedBy: by } : { pending: 'no node may announce the address (externalTrafficPolicy Local and no ready endpoint)' }) };
}
