// The Service frontends one podwire node gets, as kube-proxy programs every
// node (its iptables/nftables rules, in WASM tables here):
//  - ClusterIP:port of every Service (NodePort and LoadBalancer ones have a
//    ClusterIP too), to its ready endpoints at targetPort — only this node's
//    endpoints under internalTrafficPolicy: Local;
//  - for NodePort and LoadBalancer Services: the node's own address at each
//    nodePort, and every externalIP / loadBalancerIP at the port. Under
//    externalTrafficPolicy: Cluster the client is masqueraded to the node
//    (any endpoint may answer, replies must come back through this node);
//    under Local only this node's endpoints serve and the client's address
//    is kept;
//  - a Local policy with endpoints elsewhere but none here drops new flows
//    (kube-proxy's "no local endpoints" rule); a Service with no ready
//    endpoint at all rejects them;
//  - sessionAffinity: ClientIP with its timeout on every frontend;
//  - cluster.serviceScheduler: maglev makes every frontend choose by Maglev
//    consistent hashing (IPVS's "mh") instead of at random;
//  - endpoints on nodes absent from a shared store (plan.absentNodes) are
//    left out, as the endpoint controller drops a NotReady node's pods.
import type { EngineServiceConfig } from '../dataplane/engine-protocol.ts';
import { hasUnderlay, type LabPlan, type NodePlan } from '../model/topology.ts';
import { hasClusterIP, type ServicePlan, type EndpointPlan } from '../model/services.ts';
import { endpointTargetPort } from '../model/pod-ports.ts';

export function serviceFrontends(plan: Pick<LabPlan, 'services' | 'nodes' | 'serviceScheduler' | 'external' | 'absentNodes'>, node: NodePlan): EngineServiceConfig[] {
  // a single-node lab without external hosts has no underlay: nothing reaches its address from outside
  const nodeAddress = hasUnderlay(plan) ? node.underlayIp : undefined;
  // headless and ExternalName Services have no address: kube-proxy programs nothing for them (DNS answers them)
  const absent = new Set(plan.absentNodes ?? []);
  const frontends = plan.services.filter(hasClusterIP).flatMap((svc) => frontendsOf(svc, node, nodeAddress, absent));
  return plan.serviceScheduler === 'maglev' ? frontends.map((f) => ({ ...f, scheduler: 'maglev' as const })) : frontends;
}

function frontendsOf(svc: ServicePlan, node: NodePlan, nodeAddress: string | undefined, absent: Set<string>): EngineServiceConfig[] {
  // a pod on a node absent from the shared store is not served: its host is gone (or not there yet)
  const ready = svc.endpoints.filter((e) => e.ready && !absent.has(e.node));
  const local = ready.filter((e) => e.node === node.name);
  const affinitySeconds = svc.sessionAffinity === 'ClientIP' ? svc.sessionAffinityTimeoutSeconds : undefined;
  const service = `${svc.namespace}/${svc.name}`;
  const pick = (policy: 'Cluster' | 'Local'): { eps: EndpointPlan[]; dropWhenEmpty?: boolean } =>
    policy === 'Local' ? { eps: local, ...(local.length === 0 && ready.length > 0 ? { dropWhenEmpty: true } : {}) } : { eps: ready };
  const out: EngineServiceConfig[] = [];
  for (const p of svc.ports) {
    const proto = p.protocol === 'UDP' ? 'udp' as const : 'tcp' as const;
    // a named targetPort: each pod's own port of that name; a pod without one is no backend of this port
    const to = (eps: EndpointPlan[]) => eps.flatMap((e) => {
      const port = endpointTargetPort(p, e);
      return port === undefined ? [] : [{ ip: e.ip, port }];
    });
    const internal = pick(svc.internalTrafficPolicy);
    out.push({
      vip: svc.clusterIP, port: p.port, proto, backends: to(internal.eps), service,
      ...(affinitySeconds ? { affinitySeconds } : {}), ...(internal.dropWhenEmpty ? { dropWhenEmpty: true } : {}),
    });
    if (svc.type === 'ClusterIP') continue;
    const external = pick(svc.externalTrafficPolicy);
    const ext = {
      proto, backends: to(external.eps), service,
      ...(svc.externalTrafficPolicy === 'Cluster' ? { masquerade: true } : {}),
      ...(affinitySeconds ? { affinitySeconds } : {}), ...(external.dropWhenEmpty ? { dropWhenEmpty: true } : {}),
    };
    if (nodeAddress && p.nodePort) out.push({ vip: nodeAddress, port: p.nodePort, ...ext });
    for (const ip of externalAddresses(svc)) out.push({ vip: ip, port: p.port, ...ext });
  }
  return out;
}

/** externalIPs, and a LoadBalancer Service's address (its loadBalancerIP or a pool address: load-balancer.ts; none while pending). */
export function externalAddresses(svc: Pick<ServicePlan, 'type' | 'externalIPs' | 'loadBalancerIP' | 'loadBalancer'>): string[] {
  const ip = svc.loadBalancer ? svc.loadBalancer.ip : svc.loadBalancerIP;
  const lb = svc.type === 'LoadBalancer' && ip ? [ip] : [];
  return [...new Set([...svc.externalIPs, ...lb])];
}
