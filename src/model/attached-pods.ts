// Pods a container runtime attaches to a running lab (CNI ADD, src/lab/cni-control.ts):
// the address and bridge port such a pod gets on its node, and the Services'
// endpoints chosen again once pods came or went. Pure planning.
import { parseCidr, nthAddress, containsAddress, podCapacity } from './cidr.ts';
import { ipv4ToInt } from './addr.ts';
import { selectEndpoints, type EndpointPod } from './endpoints.ts';
import { serviceKey, type ServiceChange } from './apply.ts';
import type { ServicePlan } from './services.ts';
import type { NodePlan, PodPlan } from './topology-types.ts';

/** Why an address or port could not be given: the CNI plugin maps `kind` to an error code. */
export class AttachError extends Error {
  constructor(readonly kind: 'exhausted' | 'taken' | 'outside', message: string) {
    super(message);
  }
}

/**
 * The address for a new pod of `node`: `wanted` (a delegated IPAM plugin's
 * choice) when it is a free pod address of the node's pod CIDR, else the
 * lowest free one. `used` are the addresses the node's pods (the lab's own
 * DNS and Ingress pods included) hold.
 */
export function choosePodAddress(node: Pick<NodePlan, 'name' | 'podCIDR' | 'gateway'>, used: Set<string>, wanted?: string): string {
  const cidr = parseCidr(node.podCIDR, `node ${node.name} podCIDR`);
  const last = podCapacity(cidr) + 1; // network (0) and gateway (1) excluded, broadcast too
  if (wanted !== undefined) {
    if (!containsAddress(cidr, wanted)) throw new AttachError('outside', `address ${wanted} is outside node ${node.name}'s pod CIDR ${node.podCIDR} (configure the IPAM plugin's range inside it)`);
    const i = (ipv4ToInt(wanted) - ipv4ToInt(nthAddress(cidr, 0))) >>> 0;
    if (i < 2 || i > last) throw new AttachError('outside', `address ${wanted} is the network, gateway or broadcast address of ${node.podCIDR}`);
    if (used.has(wanted)) throw new AttachError('taken', `address ${wanted} is already a pod's on node ${node.name}`);
    return wanted;
  }
  for (let i = 2; i <= last; i++) {
    const ip = nthAddress(cidr, i);
    if (!used.has(ip)) return ip;
  }
  throw new AttachError('exhausted', `node ${node.name}'s pod CIDR ${node.podCIDR} has no free address (${podCapacity(cidr)} pods)`);
}

/**
 * The bridge port for a new pod: the lowest one no pod uses, below the
 * node's last port (the underlay's with several nodes). `portCount` is fixed
 * when the lab comes up (topology nodePortCount), so a node takes only so
 * many pods attached later.
 */
export function choosePodPort(node: Pick<NodePlan, 'name'>, usedPorts: Set<number>, portCount: number): number {
  for (let p = 0; p < portCount - 1; p++) if (!usedPorts.has(p)) return p;
  throw new AttachError('exhausted', `node ${node.name} has no free bridge port (${portCount - 1} pod ports, fixed when the lab came up): remove a pod first`);
}

/**
 * The lab's Services with the endpoints of those that have a selector chosen
 * again from today's pods (a pod was attached or removed); a Service listing
 * explicit endpoints keeps them. `touched` names the Services whose
 * endpoints changed, for the data plane.
 */
export function reselectEndpoints(services: ServicePlan[], nodes: Pick<NodePlan, 'name' | 'pods'>[]): ServiceChange {
  const pods: EndpointPod[] = nodes.flatMap((n) => n.pods.map((p: PodPlan) => ({ ...p, node: n.name })));
  const podByIp = new Map(pods.map((p) => [p.ip, p]));
  const touched: string[] = [];
  const next = services.map((s) => {
    if (!s.selector || Object.keys(s.selector).length === 0) return s;
    const endpoints = selectEndpoints({ ...s, endpoints: undefined }, pods, podByIp, () => {}) ?? s.endpoints;
    if (JSON.stringify(endpoints) === JSON.stringify(s.endpoints)) return s;
    touched.push(serviceKey(s));
    return { ...s, endpoints };
  });
  return { services: next, results: [], touched };
}
