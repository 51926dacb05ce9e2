// What flannel and the CNI plugin program into each node: a route for the
// node's own pod CIDR on its bridge, one per other node's pod CIDR through
// the overlay (VXLAN to that node's VTEP, IP-in-IP to its underlay address,
// or host-gw with it as next hop), the underlay's own subnet as a connected
// route (hosts there, such as a client outside the cluster reaching a
// NodePort, are answered directly; their addresses are learned from their
// ARP requests), and neighbours for the node's pods and for the other nodes
// on the underlay. Nodes absent from a shared store (plan.absentNodes) get
// no route (their host is gone or not there yet); their underlay neighbour
// stays, unused until the route comes back (the topology fixes its MAC).
import { hasUnderlay, type LabPlan, type NodePlan } from './topology.ts';

/** How a route leaves the node; the dataplane encodes these names (dataplane.ts ROUTE_KIND). */
export type RouteKind = 'local' | 'vxlan' | 'ipip' | 'host-gw' | 'announced';
export interface RouteConfig { cidr: string; kind: RouteKind; nextHop?: string; vtepMac?: string }

export interface NodeTables {
  routes: RouteConfig[];
  neighbors: { ip: string; mac: string }[];
}

export function nodeTables(plan: LabPlan, node: NodePlan): NodeTables {
  const absent = new Set(plan.absentNodes ?? []);
  const others = plan.nodes.filter((n) => n !== node);
  const present = others.filter((n) => !absent.has(n.name));
  return {
    routes: [
      { cidr: node.podCIDR, kind: 'local' },
      ...present.map((o): RouteConfig => ({ cidr: o.podCIDR, kind: plan.overlay, nextHop: o.underlayIp, vtepMac: o.vtepMac })),
      // connected (no next hop): out of the underlay port to the destination's own MAC
      ...(hasUnderlay(plan) ? [{ cidr: plan.underlayCIDR, kind: 'host-gw' as const }] : []),
    ],
    neighbors: [
      ...node.pods.map((p) => ({ ip: p.ip, mac: p.mac })),
      ...others.map((o) => ({ ip: o.underlayIp, mac: o.underlayMac })),
    ],
  };
}
