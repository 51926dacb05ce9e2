// The cluster DNS in a running lab (see src/model/dns.ts for the plan): the
// DNS pod's namespace and TAP are made like any pod's (Lab.up gets the pod
// through withDnsPod), its server runs in this process (src/dns/server.ts),
// and every local pod gets /etc/netns/<netns>/resolv.conf, which
// `ip netns exec` mounts over /etc/resolv.conf. Those directories are host
// objects: listed in the state file before they exist, removed on down.
import { mkdirSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { labId, localNodes, type LabPlan, type PodPlan } from '../model/topology.ts';
import { clusterDnsAbsence, DNS_NAMESPACE, DNS_SERVICE_NAME } from '../model/dns.ts';
import { DEFAULT_NAMESPACE } from '../model/namespaces.ts';
import { PW_PREFIX, assertPwName } from '../io/netns.ts';
import { DnsServer, type DnsServerStats } from '../dns/server.ts';
import { resolvConf, searchPath } from '../dns/responder.ts';

/** Where `ip netns exec NAME` finds files to mount over /etc (fixed by iproute2). */
export const ETC_NETNS = '/etc/netns';
/** The namespace whose search path status and `up` print (each pod's starts with its own). */
const POD_NAMESPACE = DEFAULT_NAMESPACE;

/**
 * The DNS pod's network namespace: pw-dns.<lab> (with --node, the lab's name
 * on this host). The dot keeps it apart from every pod's pw-<pod> (pod names
 * have none), and the lab name from other labs' DNS pods. Only a namespace
 * name: no interface is named after it (the pod's TAP is pw-<pid>-<i> until
 * it becomes eth0), so the 15-character limit of interface names does not
 * apply, and namespace names may be as long as a file name.
 */
export function dnsNetns(plan: LabPlan): string {
  return `${PW_PREFIX}dns.${labId(plan)}`;
}

/** The DNS pod as a pod of its node, when this process runs that node. */
export function clusterDnsPod(plan: LabPlan): PodPlan | undefined {
  const d = plan.dns;
  if (!d || !localNodes(plan).some((n) => n.name === d.node)) return undefined;
  return {
    name: d.pod.name, labels: { 'k8s-app': 'kube-dns' }, namespace: dnsNetns(plan), k8sNamespace: d.pod.k8sNamespace, node: d.node,
    ip: d.pod.ip, prefixLen: d.pod.prefixLen, mac: d.pod.mac, gateway: d.pod.gateway, mtu: d.pod.mtu, port: d.pod.port,
  };
}

/**
 * The plan the lab's host objects and data plane are built from: the DNS
 * pod joins its node's pods (last: the port after the user pods), so it gets
 * a namespace, a TAP, a port and a neighbour entry like any pod. Only that
 * node's object is copied; the plan's own nodes and pods stay as they are.
 */
export function withDnsPod(plan: LabPlan): LabPlan {
  const pod = clusterDnsPod(plan);
  if (!pod) return plan;
  return { ...plan, nodes: plan.nodes.map((n) => (n.name === pod.node ? { ...n, pods: [...n.pods, pod] } : n)) };
}

/** A pod's resolv.conf: written to /etc/netns/<netns>, its search path starting with its Kubernetes namespace. */
export interface ResolvConfTarget { netns: string; k8sNamespace: string }

/** The pods whose /etc/netns/<netns>/resolv.conf this lab writes: every local pod (kernel nodes' too), when it has a cluster DNS. */
export function resolvConfTargets(plan: LabPlan): ResolvConfTarget[] {
  if (!plan.dns) return [];
  return localNodes(plan).flatMap((n) => n.pods.map((p) => ({ netns: p.namespace, k8sNamespace: p.k8sNamespace })));
}

/** The network namespaces of resolvConfTargets (what the state file lists). */
export function resolvConfNamespaces(plan: LabPlan): string[] {
  return resolvConfTargets(plan).map((t) => t.netns);
}

/**
 * Write /etc/netns/<netns>/resolv.conf for each pod: the DNS ClusterIP, the
 * search path <ns>.svc.cluster.local svc.cluster.local cluster.local of
 * its own namespace (as kubelet writes it), ndots:5.
 */
export function writeResolvConfs(targets: ResolvConfTarget[], dnsIP: string): void {
  for (const t of targets) {
    assertPwName(t.netns);
    const dir = join(ETC_NETNS, t.netns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(dnsIP, t.k8sNamespace));
  }
}

/** Remove /etc/netns/<ns> for each pw- name that exists; returns those removed. */
export function removeEtcNetns(namespaces: string[]): string[] {
  const present = new Set(etcNetnsEntries());
  const gone: string[] = [];
  for (const ns of namespaces) {
    assertPwName(ns);
    if (!present.has(ns)) continue;
    rmSync(join(ETC_NETNS, ns), { recursive: true, force: true });
    gone.push(ns);
  }
  return gone;
}

/** The pw- entries under /etc/netns (for `podwire down --all`). */
export function etcNetnsEntries(): string[] {
  try {
    return readdirSync(ETC_NETNS).filter((n) => n.startsWith(PW_PREFIX) && n.length > PW_PREFIX.length);
  } catch {
    return [];
  }
}

/** What `podwire status --json` shows as `dns`. */
export interface DnsStatus {
  /** the kube-dns ClusterIP */
  ip: string;
  service: string;
  /** the DNS pod; `netns` is where it runs when this process runs its node */
  pod: { name: string; namespace: string; node: string; ip: string; netns?: string };
  /** UDP and TCP */
  protocols: string[];
  /** cluster.dns.upstream (IP:port): where names outside cluster.local are forwarded; absent: REFUSED */
  upstream?: string;
  /** the search path pods in namespace default get (resolv.conf; elsewhere it starts with their own namespace) */
  search: string[];
  /** the server's counters; absent when the DNS pod runs on another host (--node) */
  stats?: DnsServerStats;
  /** the names answered (<service>.<namespace>.svc.cluster.local -> ClusterIPs) */
  records: number;
}

/** The running lab's DNS for status: undefined when the lab has none (see `off`). */
export function clusterDnsStatus(plan: LabPlan, server: ClusterDns | undefined): DnsStatus | undefined {
  const d = plan.dns;
  if (!d) return undefined;
  return {
    ip: d.ip,
    service: `${DNS_NAMESPACE}/${DNS_SERVICE_NAME}`,
    pod: { name: d.pod.name, namespace: d.pod.k8sNamespace, node: d.node, ip: d.pod.ip, ...(server ? { netns: server.server.netns } : {}) },
    protocols: ['UDP', 'TCP'],
    ...(d.upstream ? { upstream: `${d.upstream.ip}:${d.upstream.port}` } : {}),
    search: searchPath(POD_NAMESPACE),
    records: server ? server.server.responder.names().length : plan.services.length,
    ...(server ? { stats: server.server.stats } : {}),
  };
}

/** Why a lab has no cluster DNS, for status and `up`. */
export function clusterDnsOff(plan: LabPlan): string | undefined {
  return plan.dns ? undefined : clusterDnsAbsence(plan);
}

/** One line for `podwire up`: where the cluster DNS answers, or why there is none. */
export function clusterDnsLine(plan: LabPlan, server: ClusterDns | undefined): string {
  const d = plan.dns;
  if (!d) return `podwire: no cluster DNS (${clusterDnsAbsence(plan)})`;
  const where = server ? `netns ${server.server.netns}` : 'on another host';
  return `podwire: cluster DNS ${d.ip} (${DNS_NAMESPACE}/${DNS_SERVICE_NAME}, UDP/TCP${d.upstream ? `, upstream ${d.upstream.ip}:${d.upstream.port}` : ''}) -> pod ${d.pod.name} ${d.pod.ip} on ${d.node} (${where}); pods' resolv.conf: search ${searchPath(POD_NAMESPACE).join(' ')}`;
}

/** The lab's DNS: the server (when the DNS pod is local) and the resolv.conf files written. */
export class ClusterDns {
  private constructor(readonly server: DnsServer) {}

  /**
   * Start serving in the DNS pod's namespace (which must exist, eth0 up) and
   * write the pods' resolv.conf files (already listed in the state file).
   * Undefined when the DNS pod does not run here; resolv.conf files are
   * written either way.
   */
  static start(plan: LabPlan): ClusterDns | undefined {
    if (plan.dns) writeResolvConfs(resolvConfTargets(plan), plan.dns.ip);
    const pod = clusterDnsPod(plan);
    if (!pod) return undefined;
    return new ClusterDns(DnsServer.start(pod.namespace, plan.services, {
      namespaces: (plan.namespaces ?? []).map((n) => n.name),
      reverseCidrs: [plan.serviceCIDR, plan.clusterCIDR],
      ...(plan.dns?.upstream ? { upstream: plan.dns.upstream } : {}),
    }));
  }

  /** Replace the records with these Services' (after `podwire apply` / `delete` changed plan.services). */
  setRecords(services: LabPlan['services']): void {
    this.server.setRecords(services);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
