// Announcing LoadBalancer addresses on the underlay, as MetalLB's layer-2
// speaker does: for each address exactly one node (model/load-balancer.ts
// announcingNode) answers ARP for it, and sends a gratuitous ARP when it
// takes the address over (at up, and when `podwire apply` moves it), so
// hosts on the segment update the MAC they hold.
//  - a podwire node: its data plane answers ARP on the underlay port for the
//    addresses it is given (announced /32 routes: Dataplane.setAnnounced);
//  - a kernel node: the address as a /32 on its underlay interface (eth0),
//    so its kernel answers ARP; kube-proxy's rules already DNAT it.
// The gratuitous ARP leaves from the underlay bridge with the node's MAC as
// sender: on the wire it is the frame the node itself would send.
import { ipBatch } from '../io/netns.ts';
import { gratuitousArpFrame, sendFrameIn } from '../io/garp.ts';
import { announcements } from '../model/load-balancer.ts';
import type { LabPlan, NodePlan } from '../model/topology.ts';

export interface AnnouncerTargets {
  /** the lab's plan as it is now (services change with apply) */
  plan: () => Pick<LabPlan, 'services' | 'nodes'>;
  /** podwire nodes run here: hand them their addresses */
  setPodwire: (node: string, addresses: string[]) => Promise<void>;
  /** kernel nodes run here, with their namespaces */
  kernel: { node: NodePlan; ns: string }[];
  /** where gratuitous ARPs are sent from: the underlay bridge */
  underlay: { ns: string; bridge: string };
}

export class LoadBalancerAnnouncer {
  /** address -> the node announcing it, as last programmed */
  private owner = new Map<string, string>();
  private kernelHas = new Map<string, Set<string>>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly t: AnnouncerTargets, private readonly podwireNodes: string[]) {}

  /** Program every node's addresses and announce the ones that moved. */
  async sync(): Promise<void> {
    const plan = this.t.plan();
    const byNode = announcements(plan.services, plan.nodes.map((n) => n.name));
    for (const name of this.podwireNodes) await this.t.setPodwire(name, byNode.get(name) ?? []);
    for (const { node, ns } of this.t.kernel) {
      const want = new Set(byNode.get(node.name) ?? []);
      const had = this.kernelHas.get(ns) ?? new Set<string>();
      const cmds = [
        ...[...had].filter((ip) => !want.has(ip)).map((ip) => `addr del ${ip}/32 dev eth0`),
        ...[...want].filter((ip) => !had.has(ip)).map((ip) => `addr add ${ip}/32 dev eth0`),
      ];
      if (cmds.length) await ipBatch(cmds, ns);
      this.kernelHas.set(ns, want);
    }
    const next = new Map<string, string>();
    for (const [node, ips] of byNode) for (const ip of ips) next.set(ip, node);
    const macOf = new Map(plan.nodes.map((n) => [n.name, n.underlayMac]));
    for (const [ip, node] of next) {
      if (this.owner.get(ip) === node) continue;
      sendFrameIn(this.t.underlay.ns, this.t.underlay.bridge, gratuitousArpFrame(ip, macOf.get(node)!));
    }
    this.owner = next;
  }

  /** Queue a sync (Lab.onServicesChanged hooks are not awaited); failures go to `log`. */
  schedule(log: (line: string) => void = () => {}): Promise<void> {
    this.queue = this.queue.then(() => this.sync()).catch((e) => log(`podwire: announcing LoadBalancer addresses: ${(e as Error).message}`));
    return this.queue;
  }
}
