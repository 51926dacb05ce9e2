// A "kernel node": a Kubernetes node built the way flannel builds one, with
// the Linux kernel doing all the forwarding. It exists so a cluster can mix
// podwire nodes with nodes whose data plane is known-good, over a real L2
// underlay (underlay.ts): if a podwire node and a kernel node talk, podwire
// speaks the same wire format as flannel.
//
// Per node, inside namespace pw-node-<name> (all names below are local to it):
//   eth0       underlay interface (veth into the underlay bridge)
//   cni0       bridge holding the pod gateway address (CNI bridge plugin, isGateway)
//   vethXXXX   one per pod, enslaved to cni0; its peer is eth0 in pw-<pod>
//   flannel.1  (vxlan backend) VTEP: VNI, dstport, local underlay IP, no learning,
//              address = podCIDR network address/32, MTU = underlay MTU - 50
// and per peer node:
//   vxlan:   route <podCIDR> via <podCIDR .0> dev flannel.1 onlink
//            neigh <podCIDR .0> lladdr <peer vtepMac> dev flannel.1 permanent
//            fdb   <peer vtepMac> dev flannel.1 dst <peer underlayIp> self permanent
//   host-gw: route <podCIDR> via <peer underlayIp> dev eth0
// which is exactly flannel's vxlan and host-gw backends (pkg/backend/vxlan,
// pkg/backend/hostgw), minus the iptables masquerade rules flannel adds for
// traffic leaving the cluster (there is no "outside" in a lab).
import { createHash } from 'node:crypto';
import { assertPwName, ipBatch, netnsList, netnsRun, sysctl } from '../io/netns.ts';
import { parseCidr, nthAddress, type Cidr } from '../model/cidr.ts';
import { attachVethNode, removeNamespaces, type Underlay } from './underlay.ts';

export type KernelOverlay = 'vxlan' | 'host-gw';

/** flannel's VXLAN device name and defaults (flannel uses VNI 1 and the Linux port 8472). */
export const FLANNEL_VXLAN_DEV = 'flannel.1';
export const DEFAULT_VXLAN = { vni: 1, port: 8472 } as const;
/** outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) */
export const VXLAN_OVERHEAD = 50;

export interface KernelPodSpec {
  name: string;
  /** pw-<name> unless given */
  namespace?: string;
  ip: string;
  mac: string;
  /** default: the podCIDR's prefix length */
  prefixLen?: number;
  /** default: underlay MTU minus the overlay's overhead */
  mtu?: number;
}

export interface KernelPeerSpec {
  name: string;
  underlayIp: string;
  underlayMac: string;
  podCIDR: string;
  /** the peer's flannel.1 MAC (vxlan only) */
  vtepMac?: string;
}

export interface KernelNodeSpec {
  name: string;
  /** pw-node-<name> unless given */
  nodeNs?: string;
  underlay: Underlay;
  underlayIp: string;
  underlayMac: string;
  podCIDR: string;
  /** default: first address of podCIDR */
  gateway?: string;
  gatewayMac: string;
  /** underlay MTU (eth0); default 1500 */
  mtu?: number;
  overlay: KernelOverlay;
  vxlan?: { vni: number; port: number };
  /** flannel.1's MAC (vxlan only) */
  vtepMac?: string;
  pods: KernelPodSpec[];
  peers: KernelPeerSpec[];
  /**
   * host-gw only: pin each peer's underlay MAC with a permanent neighbour
   * entry. flannel does not (it lets ARP run); default false.
   */
  staticUnderlayNeighbors?: boolean;
}

export interface KernelNode {
  name: string;
  nodeNs: string;
  /** every namespace this node created: the node's, then its pods' */
  namespaces: string[];
  /** Delete every namespace it created (which deletes every link in them). Idempotent. */
  teardown(): Promise<void>;
}

/** The settings every step needs, with defaults filled in and checked once. */
interface Resolved {
  spec: KernelNodeSpec;
  nodeNs: string;
  cidr: Cidr;
  gateway: string;
  mtu: number;
  podMtu: number;
  pods: (KernelPodSpec & { namespace: string; prefixLen: number; mtu: number })[];
}

/**
 * Build the node. On any failure everything created so far is removed and the
 * error rethrown; namespaces that already existed are never touched.
 */
export async function buildKernelNode(spec: KernelNodeSpec): Promise<KernelNode> {
  const r = resolve(spec);
  const namespaces = [r.nodeNs, ...r.pods.map((p) => p.namespace)];
  const existing = new Set(await netnsList());
  const clash = namespaces.filter((n) => existing.has(n));
  if (clash.length) throw new Error(`kernel node ${spec.name}: namespace(s) ${clash.join(', ')} already exist`);
  const node: KernelNode = { name: spec.name, nodeNs: r.nodeNs, namespaces, teardown: () => removeNamespaces(namespaces) };
  try {
    await ipBatch(namespaces.map((n) => `netns add ${n}`));
    await attachVethNode(spec.underlay, r.nodeNs, { ip: spec.underlayIp, mac: spec.underlayMac, mtu: r.mtu });
    // a node routes between cni0, eth0 and flannel.1; a fresh namespace does not forward
    await sysctl(r.nodeNs, { 'net.ipv4.ip_forward': 1 });
    await ipBatch([...bridgeLines(r), ...podVethLines(r), ...overlayLines(r)], r.nodeNs);
    await Promise.all(r.pods.map((p) => ipBatch(podLines(p, r.gateway), p.namespace)));
    await addFdbEntries(r);
  } catch (e) {
    await node.teardown().catch(() => {});
    throw e;
  }
  return node;
}

/** Fill in defaults and reject specs that would half-build a node. */
function resolve(spec: KernelNodeSpec): Resolved {
  const nodeNs = spec.nodeNs ?? `pw-node-${spec.name}`;
  assertPwName(nodeNs);
  const cidr = parseCidr(spec.podCIDR, `kernel node ${spec.name}: podCIDR`);
  const mtu = spec.mtu ?? 1500;
  const podMtu = mtu - (spec.overlay === 'vxlan' ? VXLAN_OVERHEAD : 0);
  if (spec.overlay === 'vxlan') {
    if (!spec.vtepMac) throw new Error(`kernel node ${spec.name}: vxlan needs vtepMac`);
    const noMac = spec.peers.filter((p) => !p.vtepMac).map((p) => p.name);
    if (noMac.length) throw new Error(`kernel node ${spec.name}: vxlan peer(s) ${noMac.join(', ')} have no vtepMac`);
  } else if (spec.overlay !== 'host-gw') {
    throw new Error(`kernel node ${spec.name}: overlay "${String(spec.overlay)}" is not supported (vxlan, host-gw; this kernel has no ipip module)`);
  }
  const pods = spec.pods.map((p) => ({
    ...p,
    namespace: p.namespace ?? `pw-${p.name}`,
    prefixLen: p.prefixLen ?? cidr.prefixLen,
    mtu: p.mtu ?? podMtu,
  }));
  pods.forEach((p) => assertPwName(p.namespace));
  return { spec, nodeNs, cidr, gateway: spec.gateway ?? nthAddress(cidr, 1), mtu, podMtu, pods };
}

/**
 * cni0 as the CNI bridge plugin leaves it with isGateway: the gateway address
 * (which also installs the connected podCIDR route, so same-node pods talk
 * over the bridge and the node reaches them), the gateway MAC pinned so it
 * does not follow whichever port joins first, and the pod MTU.
 */
function bridgeLines(r: Resolved): string[] {
  return [
    'link add cni0 type bridge stp_state 0 forward_delay 0',
    `link set cni0 address ${r.spec.gatewayMac} mtu ${r.podMtu} addrgenmode none`,
    `addr add ${r.gateway}/${r.cidr.prefixLen} dev cni0`,
    'link set cni0 up',
  ];
}

/** One veth per pod, created from the node straight into the pod's namespace as its eth0. */
function podVethLines(r: Resolved): string[] {
  return r.pods.flatMap((p) => {
    const host = hostVethName(p.namespace);
    return [
      `link add ${host} mtu ${p.mtu} type veth peer name eth0 mtu ${p.mtu} address ${p.mac} netns ${p.namespace}`,
      `link set ${host} addrgenmode none master cni0`,
      // flannel's CNI config delegates to the bridge plugin with hairpinMode: true: a pod reaching
      // itself through a Service (DNAT back to it, kernel-services.ts) is bridged out of the port it came in on
      `link set ${host} type bridge_slave hairpin on`,
      `link set ${host} up`,
    ];
  });
}

/** Node-side veth name: "veth" + 8 hex, the shape CNI uses, but stable per pod. */
export function hostVethName(podNs: string): string {
  return 'veth' + createHash('sha256').update(podNs).digest('hex').slice(0, 8);
}

/** Inside the pod: loopback, eth0 (no IPv6 autoconf noise), address, default route via the gateway. */
function podLines(p: Resolved['pods'][number], gateway: string): string[] {
  return [
    'link set lo up',
    'link set eth0 addrgenmode none',
    `addr add ${p.ip}/${p.prefixLen} dev eth0`,
    'link set eth0 up',
    `route add default via ${gateway} dev eth0`,
  ];
}

function overlayLines(r: Resolved): string[] {
  return r.spec.overlay === 'vxlan' ? vxlanLines(r) : hostGwLines(r);
}

/**
 * flannel's vxlan backend. `nolearning`: flannel programs every remote VTEP
 * itself, so the kernel must not learn (or flood to) anything. The route is
 * `onlink` because the gateway (the peer's .0) is on no subnet of this node;
 * the permanent neighbour entry answers the ARP for it, so flannel.1 never
 * has to broadcast (it has nowhere to flood: no group, no all-zeros FDB).
 */
function vxlanLines(r: Resolved): string[] {
  const { vni, port } = r.spec.vxlan ?? DEFAULT_VXLAN;
  const dev = FLANNEL_VXLAN_DEV;
  const lines = [
    `link add ${dev} type vxlan id ${vni} dstport ${port} local ${r.spec.underlayIp} dev eth0 nolearning`,
    `link set ${dev} address ${r.spec.vtepMac} mtu ${r.mtu - VXLAN_OVERHEAD} addrgenmode none`,
    // flannel gives the VTEP the subnet's network address as a /32 (no connected route)
    `addr add ${nthAddress(r.cidr, 0)}/32 dev ${dev}`,
    `link set ${dev} up`,
  ];
  for (const peer of r.spec.peers) {
    const peerNet = peerNetwork(peer);
    lines.push(
      `route add ${peer.podCIDR} via ${peerNet} dev ${dev} onlink`,
      `neigh add ${peerNet} lladdr ${peer.vtepMac} dev ${dev} nud permanent`,
    );
  }
  return lines;
}

/**
 * The FDB half of flannel's per-peer state: "MAC X lives behind VTEP Y". Not
 * expressible in `ip -batch`, so it goes through `bridge -batch` in the node.
 */
async function addFdbEntries(r: Resolved): Promise<void> {
  if (r.spec.overlay !== 'vxlan' || r.spec.peers.length === 0) return;
  const lines = r.spec.peers.map((p) => `fdb append ${p.vtepMac} dev ${FLANNEL_VXLAN_DEV} dst ${p.underlayIp} self permanent`);
  await netnsRun(r.nodeNs, ['bridge', '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** flannel's host-gw backend: the peer node itself is the next hop for its podCIDR. */
function hostGwLines(r: Resolved): string[] {
  return r.spec.peers.flatMap((peer) => [
    `route add ${peer.podCIDR} via ${peer.underlayIp} dev eth0`,
    ...(r.spec.staticUnderlayNeighbors ? [`neigh add ${peer.underlayIp} lladdr ${peer.underlayMac} dev eth0 nud permanent`] : []),
  ]);
}

function peerNetwork(peer: KernelPeerSpec): string {
  return nthAddress(parseCidr(peer.podCIDR, `peer ${peer.name}: podCIDR`), 0);
}
