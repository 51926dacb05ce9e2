// `podwire trace --from <external host>`: the first packet a host outside the
// cluster (the topology's `external:` list) sends to an address on the
// underlay. Its kernel ARPs for the address on the underlay bridge, so the
// packet enters whichever node answers: the node owning the address, or the
// one announcing it for a LoadBalancer Service (load-balancer.ts). That
// node's underlay port is where the trace starts. Pure planning: the lab runs
// the frame (trace-control.ts).
import type { LabPlan, NodePlan } from '../model/topology.ts';
import { nodePortCount, hasUnderlay } from '../model/topology.ts';
import type { ExternalHostPlan } from '../model/external-hosts.ts';
import { announcingNode } from '../model/load-balancer.ts';
import { isIpv4 } from '../model/addr.ts';
import { probeFrame, type ProbeProto } from '../dataplane/probe.ts';

export interface ExternalProbe {
  host: ExternalHostPlan;
  /** the node whose underlay port receives the packet */
  node: NodePlan;
  /** that port's number in the node's data plane */
  port: number;
  /** why that node: "node address" or "announces the LoadBalancer address of Service NS/NAME" */
  answeredBecause: string;
  to: { asked: string; ip: string; port?: number; service?: string };
  frame: Uint8Array;
}

/** The external host `name` (NAME, or its namespace pw-NAME), if the lab has one. */
export function findExternalHost(plan: LabPlan, name: string): ExternalHostPlan | undefined {
  return (plan.external ?? []).find((h) => h.name === name || h.netns === name);
}

/**
 * The packet `host` sends to `to` (an IPv4 address, or a LoadBalancer Service
 * NAME / NAMESPACE/NAME standing for its address) and where it enters.
 * Throws, saying why, when nothing on the underlay would answer for it.
 */
export function externalProbe(plan: LabPlan, host: ExternalHostPlan, to: string, proto: ProbeProto, port?: number): ExternalProbe {
  if (!hasUnderlay(plan)) throw new Error('this lab has no underlay'); // never: external hosts give it one
  const lbServices = plan.services.filter((s) => s.type === 'LoadBalancer' && s.loadBalancer?.ip);
  const [ns, name] = to.includes('/') ? to.split('/', 2) : ['default', to];
  const byName = lbServices.find((s) => s.namespace === ns && s.name === name);
  const ip = byName ? byName.loadBalancer!.ip! : to;
  if (!isIpv4(ip)) {
    throw new Error(`"${to}": from external host ${host.name}, --to is an address on the underlay (a node's, or a LoadBalancer address) or a LoadBalancer Service with one`);
  }
  let node = plan.nodes.find((n) => n.underlayIp === ip);
  let answeredBecause = 'its own address';
  const svc = byName ?? lbServices.find((s) => s.loadBalancer!.ip === ip);
  if (!node && svc) {
    const by = announcingNode(svc, plan.nodes.map((n) => n.name));
    if (!by) throw new Error(`${ip} (LoadBalancer Service ${svc.namespace}/${svc.name}): no node announces it (externalTrafficPolicy Local and no ready endpoint): ${host.name}'s ARP gets no answer`);
    node = plan.nodes.find((n) => n.name === by)!;
    answeredBecause = `announces the LoadBalancer address of Service ${svc.namespace}/${svc.name}`;
  }
  if (!node) {
    throw new Error(`${ip}: no node answers ARP for it on the underlay (neither a node's address nor an announced LoadBalancer address): ${host.name} cannot reach it`);
  }
  if (node.dataplane !== 'podwire') throw new Error(`${ip} is answered by ${node.name}, a kernel node: only podwire nodes can be traced`);
  const wanted = proto.toUpperCase();
  const sp = svc && (port !== undefined ? svc.ports.find((p) => p.port === port && p.protocol === wanted) : svc.ports.find((p) => p.protocol === wanted));
  const dport = port ?? sp?.port;
  if (proto !== 'icmp' && dport === undefined) throw new Error(`--port is needed for ${proto} to ${to}`);
  const frame = probeFrame({ srcMac: host.mac, dstMac: node.underlayMac, srcIp: host.ip, dstIp: ip, proto, port: dport });
  return {
    host, node, port: nodePortCount(node) - 1, answeredBecause, frame,
    to: { asked: to, ip, ...(dport !== undefined ? { port: dport } : {}), ...(svc ? { service: `${svc.namespace}/${svc.name}` } : {}) },
  };
}
