// Services on kernel nodes: the nftables ruleset kube-proxy's nftables mode
// (kubernetes pkg/proxy/nftables) writes, built from the same per-node
// frontend list a podwire node is programmed with (service-frontends.ts), and
// loaded with `nft -f` into the kernel node's namespace. With it a kernel
// node's pods reach Services as on a real node, and a kernel node is the
// known-good baseline to hold podwire's own Service NAT against.
//
// What it writes, in one table `ip kube-proxy` (names and rule shapes as
// kube-proxy's, chain names `<prefix>-<HASH>-<ns>/<name>/<proto>/<port>`
// with HASH the first 8 base32 characters of the name's sha256):
//   nat-prerouting / nat-output  -> services: `ip daddr . meta l4proto . th dport
//                                   vmap @service-ips`, and NodePorts on @nodeport-ips
//                                   through @service-nodeports
//   service-... (ClusterIP)      -> `ip daddr VIP ip saddr != clusterCIDR jump
//                                   mark-for-masquerade` (off-cluster clients), ClientIP
//                                   affinity lookups, then `numgen random mod N vmap`
//                                   over the endpoint chains
//   local-...                    -> the same over a Local traffic policy's endpoints
//   external-...                 -> externalTrafficPolicy: Cluster (masquerade: true):
//                                   jump mark-for-masquerade, goto the service chain
//   endpoint-...                 -> `ip saddr EP jump mark-for-masquerade` (hairpin: a
//                                   pod reaching itself), `update @affinity-... { ip saddr }`,
//                                   `dnat to EP:PORT`
//   affinity-... (sets)          -> sessionAffinity ClientIP: flags dynamic,timeout
//   no-endpoint-services/-nodeports -> goto reject-chain (TCP reset; ICMP port
//                                   unreachable otherwise), or drop (dropWhenEmpty),
//                                   checked in filter-forward/-input/-output
//   cluster-ips-check            -> a ClusterIP at a port it does not serve is rejected,
//                                   an unallocated address of serviceCIDR dropped
//   masquerading (nat-postrouting) -> packets marked 0x4000 are masqueraded
// Left out (nothing in a lab asks for them): loadBalancerSourceRanges
// (firewall-ips), the "short-circuit pod traffic" rules of Local external
// chains, health-check nodePorts, IPv6.
//
// Same-node backends and br_netfilter. A pod sends a Service packet to its
// gateway (the VIP is off-subnet), so cni0 routes it: nat-prerouting DNATs
// it and conntrack records the flow. A backend on another node replies
// through the node (routed), and conntrack un-DNATs it. A backend on the
// *same* node replies straight to the client across cni0 — bridged, never
// routed — and only br_netfilter (bridge-nf-call-iptables=1) puts bridged
// IPv4 through conntrack, so the reply comes from the VIP. That is why
// kubeadm requires it, and kernel nodes get it: the sysctl is per network
// namespace (default 1) since Linux 5.3, and applyKernelServices checks it
// there. Where br_netfilter is absent (the sysctl does not exist), the script
// masquerades DNATed pod-to-pod flows within the node's podCIDR to the
// gateway address instead (`ct status dnat`), so the reply is routed back
// through the node — the usual workaround, at the cost of the backend no
// longer seeing the client's address.
import { createHash } from 'node:crypto';
import type { EngineServiceConfig } from '../dataplane/engine-protocol.ts';
import { assertPwName, ipBatch, netnsRun, run, sysctl } from '../io/netns.ts';
import { containsAddress, parseCidr } from '../model/cidr.ts';
import { hasUnderlay, type LabPlan, type NodePlan } from '../model/topology.ts';
import { serviceFrontends } from './service-frontends.ts';

export const KUBE_PROXY_TABLE = 'kube-proxy';
/** kube-proxy's --masquerade-bit 14 */
export const MASQUERADE_MARK = '0x4000';
const BR_NF_SYSCTL = '/proc/sys/net/bridge/bridge-nf-call-iptables';

/** What nftRules needs to know of the node (besides its frontends). */
export interface KernelServiceNode {
  /** the node's own address: frontends at it are NodePorts (@nodeport-ips) */
  address?: string;
  /** pods of the whole cluster: clients from elsewhere are masqueraded when they reach a ClusterIP (kube-proxy's --cluster-cidr) */
  clusterCIDR: string;
  /** this node's podCIDR (for the no-br_netfilter masquerade) */
  podCIDR: string;
  /** the Service range: ClusterIPs are recognised by it; unallocated addresses in it are dropped */
  serviceCIDR?: string;
  /** bridged IPv4 goes through netfilter here (bridge-nf-call-iptables=1); default true */
  brNetfilter?: boolean;
}

/** kube-proxy's hashAndTruncate: "HASH8-name", HASH8 the first 8 base32 chars of sha256(name); cut to 240 chars. */
export function hashAndTruncate(name: string): string {
  const out = `${base32(createHash('sha256').update(name).digest()).slice(0, 8)}-${name}`;
  return out.length > 240 ? out.slice(0, 237) + '...' : out;
}

function base32(buf: Buffer): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of buf) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += A[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += A[(value << (5 - bits)) & 31];
  return out;
}

/** nft names may hold [A-Za-z0-9_./-]: anything else in a Service name becomes "_" */
function nftName(s: string): string {
  return s.replace(/[^A-Za-z0-9_./-]/g, '_');
}

/** One set of endpoints a frontend picks from: the body of a service- / local- chain. */
interface Group {
  chain: string;
  base: string;
  f: EngineServiceConfig;
  clusterIPs: string[];
  external?: string;
}

/** The fixed part of kube-proxy's nftables table: sets, maps, base chains and their jumps (no Service in it yet). */
function kubeProxySkeleton(T: string, node: KernelServiceNode, svcCidr: ReturnType<typeof parseCidr> | undefined): string[] {
  const L: string[] = [];
  const add = (s: string) => L.push(s);

  // atomic replace: `add` makes `delete` valid on the first run too
  add(`add table ${T}`);
  add(`delete table ${T}`);
  add(`add table ${T} { comment "rules for kube-proxy" ; }`);
  add('');
  add(`add set ${T} cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }`);
  add(`add set ${T} nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }`);
  add(`add map ${T} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }`);
  add(`add map ${T} no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }`);
  add(`add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }`);
  add(`add map ${T} service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }`);
  add('');
  add(`add chain ${T} cluster-ips-check`);
  add(`add chain ${T} filter-forward { type filter hook forward priority 0 ; }`);
  add(`add chain ${T} filter-input { type filter hook input priority 0 ; }`);
  add(`add chain ${T} filter-output { type filter hook output priority 0 ; }`);
  add(`add chain ${T} mark-for-masquerade`);
  add(`add chain ${T} masquerading`);
  add(`add chain ${T} nat-output { type nat hook output priority -100 ; }`);
  add(`add chain ${T} nat-postrouting { type nat hook postrouting priority 100 ; }`);
  add(`add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; }`);
  add(`add chain ${T} nodeport-endpoints-check`);
  add(`add chain ${T} reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }`);
  add(`add chain ${T} services`);
  add(`add chain ${T} service-endpoints-check`);
  add('');
  add(`add rule ${T} cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`);
  if (svcCidr) add(`add rule ${T} cluster-ips-check ip daddr { ${svcCidr.text} } drop comment "Drop traffic to unallocated ClusterIPs"`);
  add(`add rule ${T} filter-forward ct state new jump service-endpoints-check`);
  add(`add rule ${T} filter-forward ct state new jump cluster-ips-check`);
  add(`add rule ${T} filter-input ct state new jump nodeport-endpoints-check`);
  add(`add rule ${T} filter-input ct state new jump service-endpoints-check`);
  add(`add rule ${T} filter-output ct state new jump service-endpoints-check`);
  add(`add rule ${T} filter-output ct state new jump cluster-ips-check`);
  add(`add rule ${T} mark-for-masquerade mark set mark or ${MASQUERADE_MARK}`);
  add(`add rule ${T} masquerading mark and ${MASQUERADE_MARK} == 0 return`);
  add(`add rule ${T} masquerading mark set mark xor ${MASQUERADE_MARK}`);
  add(`add rule ${T} masquerading masquerade fully-random`);
  add(`add rule ${T} nat-output jump services`);
  add(`add rule ${T} nat-postrouting jump masquerading`);
  if (node.brNetfilter === false) {
    const pods = parseCidr(node.podCIDR, 'podCIDR').text;
    add(`add rule ${T} nat-postrouting ct status dnat ip saddr ${pods} ip daddr ${pods} masquerade fully-random comment "no br_netfilter: route same-node backend replies back through the node"`);
  }
  add(`add rule ${T} nat-prerouting jump services`);
  add(`add rule ${T} nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports`);
  // kube-proxy rejects with plain `reject` (ICMP port unreachable); TCP gets a reset here, as podwire's own data plane sends
  add(`add rule ${T} reject-chain meta l4proto tcp reject with tcp reset`);
  add(`add rule ${T} reject-chain reject`);
  add(`add rule ${T} services ip daddr . meta l4proto . th dport vmap @service-ips`);
  add(`add rule ${T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`);
  add(`add rule ${T} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services`);
  if (node.address) add(`add element ${T} nodeport-ips { ${node.address} }`);
  return L;
}

/**
 * The `nft -f` script that makes a node's namespace hold exactly kube-proxy's
 * table for these frontends. Atomic: the table is created (if missing),
 * deleted and rebuilt in one transaction, so it also serves every later sync.
 */
export function nftRules(frontends: EngineServiceConfig[], node: KernelServiceNode): string {
  const T = `ip ${KUBE_PROXY_TABLE}`;
  const svcCidr = node.serviceCIDR ? parseCidr(node.serviceCIDR, 'serviceCIDR') : undefined;
  const groups = new ServiceChains();
  const elements = frontendElements(T, frontends, node, svcCidr, groups);
  const { decls, rules } = serviceChainRules(T, groups.all(), node);
  return [
    ...kubeProxySkeleton(T, node, svcCidr),
    '',
    '# Service ports: their chains, rules, then the map elements that lead to them',
    ...decls, ...rules,
    '',
    ...new Set(elements),
  ].join('\n') + '\n';
}

/**
 * Frontends sharing a Service port's endpoints share one service-/local- chain (as kube-proxy's
 * ClusterIP, NodePort and external IPs of one port do); its name comes from the first frontend
 * (serviceFrontends lists the ClusterIP first).
 */
class ServiceChains {
  private readonly groups = new Map<string, Group>();
  private readonly names = new Set<string>();

  of(f: EngineServiceConfig): Group {
    const key = JSON.stringify([f.service ?? f.vip, f.proto, f.backends.map((b) => `${b.ip}:${b.port}`).sort(), f.affinitySeconds ?? 0]);
    let g = this.groups.get(key);
    if (!g) {
      const label = nftName(`${f.service ?? f.vip}/${f.proto}/${f.port}`);
      let base = hashAndTruncate(label);
      let chain = `service-${base}`;
      if (this.names.has(chain)) chain = `local-${base}`;
      for (let i = 2; this.names.has(chain); i++) {
        base = hashAndTruncate(`${label}-${i}`);
        chain = `service-${base}`;
      }
      this.names.add(chain);
      g = { chain, base, f, clusterIPs: [] };
      this.groups.set(key, g);
    }
    return g;
  }

  all(): Group[] {
    return [...this.groups.values()];
  }
}

/**
 * The map elements leading each frontend to its chain: @service-ips / @service-nodeports
 * (through an external- chain that marks for masquerade when the frontend masquerades), or,
 * without endpoints, @no-endpoint-services / @no-endpoint-nodeports (reject or drop); every
 * ClusterIP also joins @cluster-ips. Groups the frontends into `chains` on the way.
 */
function frontendElements(T: string, frontends: EngineServiceConfig[], node: KernelServiceNode, svcCidr: ReturnType<typeof parseCidr> | undefined, chains: ServiceChains): string[] {
  const isNodePort = (f: EngineServiceConfig) => node.address !== undefined && f.vip === node.address;
  const isClusterIP = (f: EngineServiceConfig) => !isNodePort(f) && !f.masquerade && (svcCidr ? containsAddress(svcCidr, f.vip) : true);
  const comment = (f: EngineServiceConfig) => `comment "${nftName(f.service ?? f.vip)}:${f.port}"`;
  const elements: string[] = [];
  for (const f of frontends) {
    const where = isNodePort(f) ? `${f.proto} . ${f.port}` : `${f.vip} . ${f.proto} . ${f.port}`;
    if (isClusterIP(f)) elements.push(`add element ${T} cluster-ips { ${f.vip} }`);
    if (f.backends.length === 0) {
      const map = isNodePort(f) ? 'no-endpoint-nodeports' : 'no-endpoint-services';
      elements.push(`add element ${T} ${map} { ${where} ${comment(f)} : ${f.dropWhenEmpty ? 'drop' : 'goto reject-chain'} }`);
      continue;
    }
    const g = chains.of(f);
    if (isClusterIP(f)) g.clusterIPs.push(f.vip);
    let target = g.chain;
    if (f.masquerade) {
      g.external ??= `external-${g.base}`;
      target = g.external;
    }
    elements.push(`add element ${T} ${isNodePort(f) ? 'service-nodeports' : 'service-ips'} { ${where} : goto ${target} }`);
  }
  return elements;
}

/**
 * Each Service port's chains: masquerade for off-cluster clients of its ClusterIPs, the affinity
 * lookups, the random choice of an endpoint chain, the external- chain; each endpoint's chain
 * (hairpin mark, affinity update, DNAT). Declarations come apart from rules (a rule may only goto
 * a chain that exists); an endpoint chain shared by the service- and local- chains of one Service
 * port is written once.
 */
function serviceChainRules(T: string, groups: Group[], node: KernelServiceNode): { decls: string[]; rules: string[] } {
  const decls: string[] = [];
  const rules: string[] = [];
  const endpointsDone = new Set<string>();
  for (const g of groups) {
    const { f } = g;
    const eps = f.backends.map((b) => {
      const epBase = hashAndTruncate(nftName(`${g.base.slice(9)}__${b.ip}/${b.port}`));
      return { b, chain: `endpoint-${epBase}`, affinity: `affinity-${epBase}` };
    });
    decls.push(`add chain ${T} ${g.chain}`);
    for (const vip of new Set(g.clusterIPs)) {
      rules.push(`add rule ${T} ${g.chain} ip daddr ${vip} ip saddr != ${parseCidr(node.clusterCIDR, 'clusterCIDR').text} jump mark-for-masquerade`);
    }
    if (f.affinitySeconds) {
      for (const e of eps) rules.push(`add rule ${T} ${g.chain} ip saddr @${e.affinity} goto ${e.chain}`);
    }
    rules.push(`add rule ${T} ${g.chain} numgen random mod ${eps.length} vmap { ${eps.map((e, i) => `${i} : goto ${e.chain}`).join(' , ')} }`);
    if (g.external) {
      decls.push(`add chain ${T} ${g.external}`);
      rules.push(`add rule ${T} ${g.external} jump mark-for-masquerade`);
      rules.push(`add rule ${T} ${g.external} goto ${g.chain}`);
    }
    for (const e of eps) {
      if (endpointsDone.has(e.chain)) continue;
      endpointsDone.add(e.chain);
      if (f.affinitySeconds) decls.push(`add set ${T} ${e.affinity} { type ipv4_addr ; flags dynamic,timeout ; timeout ${f.affinitySeconds}s ; }`);
      decls.push(`add chain ${T} ${e.chain}`);
      rules.push(`add rule ${T} ${e.chain} ip saddr ${e.b.ip} jump mark-for-masquerade`);
      if (f.affinitySeconds) rules.push(`add rule ${T} ${e.chain} update @${e.affinity} { ip saddr }`);
      rules.push(`add rule ${T} ${e.chain} meta l4proto ${f.proto} dnat to ${e.b.ip}:${e.b.port}`);
    }
  }
  return { decls, rules };
}

/** Whether bridged IPv4 passes netfilter in pw- namespace `ns`: the br_netfilter sysctl exists there (set to 1 if it is 0). */
export async function ensureBrNetfilter(ns: string): Promise<boolean> {
  assertPwName(ns);
  const r = await netnsRun(ns, ['cat', BR_NF_SYSCTL]).catch(() => undefined);
  if (!r) return false;
  if (r.stdout.trim() !== '1') await sysctl(ns, { 'net.bridge.bridge-nf-call-iptables': 1 });
  return true;
}

/** Load `script` (from nftRules) with `nft -f -` inside kernel node namespace `nodeNs` (a pw- name). */
export async function applyKernelServices(nodeNs: string, script: string): Promise<void> {
  assertPwName(nodeNs);
  await netnsRun(nodeNs, ['nft', '-f', '-'], { input: script });
}

/** `nft -c -f -` (check only, nothing is changed) inside pw- namespace `ns`. */
export async function checkKernelServices(ns: string, script: string): Promise<void> {
  assertPwName(ns);
  await netnsRun(ns, ['nft', '-c', '-f', '-'], { input: script });
}

/** Whether the nft program is installed. */
export async function haveNft(): Promise<boolean> {
  return run('nft', ['--version']).then(() => true, () => false);
}

/** One kernel node of a lab: its namespace and what nftRules needs, given the lab's current frontends for it. */
export interface KernelServiceTarget {
  nodeNs: string;
  node: Omit<KernelServiceNode, 'brNetfilter'>;
  frontends: () => EngineServiceConfig[];
}

/**
 * The kernel nodes' kube-proxy: sync() (re)writes every node's table from its
 * current frontends; schedule() does it in the background for
 * Lab.onServicesChanged hooks (which are not awaited), one sync at a time.
 */
export class KernelServices {
  private queue: Promise<void> = Promise.resolve();
  private brNf = new Map<string, boolean>();

  constructor(private readonly targets: KernelServiceTarget[]) {}

  async sync(): Promise<void> {
    if (this.targets.length && !(await haveNft())) {
      throw new Error('kernel nodes need the nft program for kube-proxy\'s Service rules (Debian: apt-get install nftables)');
    }
    await Promise.all(this.targets.map(async (t) => {
      let br = this.brNf.get(t.nodeNs);
      if (br === undefined) {
        br = await ensureBrNetfilter(t.nodeNs);
        // stands in for a real node's default route: a packet to a ClusterIP must be routable for the
        // filter-forward checks to see it (a Service without endpoints is then rejected, not unreachable)
        if (t.node.serviceCIDR) await ipBatch([`route replace ${parseCidr(t.node.serviceCIDR, 'serviceCIDR').text} dev eth0`], t.nodeNs);
        this.brNf.set(t.nodeNs, br);
      }
      await applyKernelServices(t.nodeNs, nftRules(t.frontends(), { ...t.node, brNetfilter: br }));
    }));
  }

  /** Queue a sync; failures go to `log`. Returns when this sync is done (never rejects). */
  schedule(log: (line: string) => void = () => {}): Promise<void> {
    this.queue = this.queue.then(() => this.sync()).catch((e) => log(`podwire: kernel node Service rules: ${(e as Error).message}`));
    return this.queue;
  }

  /** Resolves when every scheduled sync has run. */
  idle(): Promise<void> {
    return this.queue;
  }
}

/**
 * The kernel nodes of a lab as KernelServices targets. Frontends are read from
 * `plan.services` at each sync, so a `podwire apply` (which replaces them) is
 * seen; `nodes` are the lab's kernel nodes with their namespaces.
 */
export function kernelServicesFor(plan: Pick<LabPlan, 'services' | 'nodes' | 'clusterCIDR' | 'serviceCIDR' | 'external'>, nodes: { node: NodePlan; ns: string }[]): KernelServices {
  return new KernelServices(nodes.map(({ node, ns }) => ({
    nodeNs: ns,
    node: {
      ...(hasUnderlay(plan) ? { address: node.underlayIp } : {}),
      clusterCIDR: plan.clusterCIDR,
      podCIDR: node.podCIDR,
      serviceCIDR: plan.serviceCIDR,
    },
    frontends: () => serviceFrontends({ services: plan.services, nodes: plan.nodes, external: plan.external }, node),
  })));
}
