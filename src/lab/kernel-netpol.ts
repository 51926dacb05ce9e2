// NetworkPolicy on kernel nodes: one node's compiled policies
// (model/network-policy-compile.ts, the very tables a podwire node is
// programmed with) rendered as an nftables table of its own, `inet pw_netpol`,
// loaded with `nft -f` into the kernel node's namespace (kernel-policies.ts).
//
// Where it judges. Every pod packet a kernel node handles crosses the IPv4
// forward hook: routed traffic (to and from flannel.1, or DNATed by
// kube-proxy) by routing, and pod-to-pod traffic bridged on cni0 because
// br_netfilter (bridge-nf-call-iptables=1, set per namespace by
// kernel-services.ts ensureBrNetfilter) hands bridged IPv4 to the same hooks.
// kube-proxy DNATs in prerouting (nat, priority -100), so forward sees the
// translated destination: ingress and egress of Service traffic are judged on
// the backend pod, as on a podwire node. Masquerading happens later
// (postrouting), so forward still sees the client's own address.
//
// What it writes:
//   forward (filter hook forward priority 0, policy accept)
//     ct state established,related accept   stateful: replies and related ICMP of
//                                           a connection let in once pass; a
//                                           policy change leaves tracked flows alone
//     ip saddr vmap @egress-pods            local pods isolated for egress
//     ip daddr vmap @ingress-pods           local pods isolated for ingress
//   egress-<ns>/<pod>, ingress-<ns>/<pod>   one rule per allowed (peer set,
//                                           protocol, port range), counted and named
//                                           after the policy rule; then a counted drop
//                                           naming the isolating policies
//   identity-<n>  (set)                     the addresses of every pod of one identity
//   class-<n>     (interval set)            an address class: its prefix minus the
//                                           longer prefixes inside it (what classOf
//                                           picks), so rules mean what decidePolicy does
// An allowed egress returns to forward (the destination may be a local pod
// isolated for ingress); an allowed ingress accepts.
import {
  CLASS_PEER_BASE, ANY_PROTOCOL,
  type CompiledPolicies, type Direction, type IsolatedPod,
} from '../model/network-policy-compile.ts';
import { intToIpv4 } from '../model/addr.ts';
import { ipInBlock, rangeText, type IpBlockRange } from '../model/network-policy.ts';

export const NETPOL_TABLE = 'pw_netpol';
const T = `inet ${NETPOL_TABLE}`;
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
/** nft keeps at most 128 bytes of a comment */
const COMMENT_MAX = 120;

/** The per-pod chain judging `direction` for `pod`. */
export function policyChain(direction: Direction, pod: Pick<IsolatedPod, 'namespace' | 'name'>): string {
  return `${direction}-${pod.namespace}/${pod.name}`;
}

/**
 * The `nft -f` script that makes a kernel node's namespace hold exactly these
 * policies: the table is created (if missing), deleted and rebuilt in one
 * transaction, so a refused script changes nothing.
 */
export function netpolRules(c: CompiledPolicies): string {
  const L: string[] = [];
  const add = (s: string) => L.push(s);
  add(`add table ${T}`);
  add(`delete table ${T}`);
  add(`add table ${T} { comment ${quote(`NetworkPolicy of node ${c.node} (podwire)`)} ; }`);
  add(`add chain ${T} forward { type filter hook forward priority 0 ; policy accept ; }`);
  add(`add map ${T} egress-pods { type ipv4_addr : verdict ; }`);
  add(`add map ${T} ingress-pods { type ipv4_addr : verdict ; }`);
  add(`add rule ${T} forward ct state established,related accept`);
  add(`add rule ${T} forward ip saddr vmap @egress-pods`);
  add(`add rule ${T} forward ip daddr vmap @ingress-pods`);

  const sets = new PeerSets(c);
  const chains: string[] = [];
  const rules: string[] = [];
  const elements: string[] = [];
  for (const pod of c.pods) for (const direction of ['egress', 'ingress'] as const) {
    if (!pod[direction].length) continue;
    const chain = policyChain(direction, pod);
    chains.push(`add chain ${T} ${chain}`);
    elements.push(`add element ${T} ${direction}-pods { ${intToIpv4(pod.ip)} : jump ${chain} }`);
    const peerField = direction === 'ingress' ? 'ip saddr' : 'ip daddr';
    const verdict = direction === 'ingress' ? 'accept' : 'return';
    for (const e of c.allows) {
      if (e.podIp !== pod.ip || e.direction !== direction) continue;
      const peer = sets.of(e.peer);
      if (!peer) continue; // an address class every longer prefix covers: no address is in it
      for (const r of e.ranges) {
        const rule = c.rules[r.rule];
        const l4 = e.protocol === ANY_PROTOCOL ? '' : ` meta l4proto ${PROTO_NAMES[e.protocol] ?? e.protocol}${r.lo === 0 && r.hi === 65535 ? '' : ` th dport ${r.lo === r.hi ? r.lo : `${r.lo}-${r.hi}`}`}`;
        rules.push(`add rule ${T} ${chain} ${peerField} @${peer}${l4} counter ${verdict} comment ${quote(`${rule.policy} ${rule.direction}[${rule.index}]`)}`);
      }
    }
    rules.push(`add rule ${T} ${chain} counter drop comment ${quote(`denied: isolated by ${pod[direction].join(', ')}`)}`);
  }
  return [...L, '', ...sets.declarations(), '', ...chains, ...rules, '', ...elements].join('\n') + '\n';
}

/** The named sets of peer addresses the rules refer to, declared once each. */
class PeerSets {
  private readonly used = new Map<number, { name: string; decl: string } | null>();
  private members?: Map<number, number[]>;
  constructor(private readonly c: CompiledPolicies) {}

  /** The set's name for allow-entry peer `peer`, or undefined when it holds no address. */
  of(peer: number): string | undefined {
    let s = this.used.get(peer);
    if (s === undefined) {
      s = peer >= CLASS_PEER_BASE ? this.classSet(peer - CLASS_PEER_BASE) : this.identitySet(peer);
      this.used.set(peer, s);
    }
    return s?.name;
  }

  declarations(): string[] {
    return [...this.used.values()].filter((s) => s !== null).map((s) => s.decl);
  }

  private identitySet(id: number): { name: string; decl: string } | null {
    if (!this.members) {
      this.members = new Map();
      for (const [ip, i] of this.c.identities) {
        const m = this.members.get(i);
        if (m) m.push(ip); else this.members.set(i, [ip]);
      }
    }
    const ips = (this.members.get(id) ?? []).sort((a, b) => a - b);
    if (!ips.length) return null;
    const name = `identity-${id}`;
    const what = this.c.identityNames[id - 1] ?? `identity ${id}`;
    return { name, decl: `add set ${T} ${name} { type ipv4_addr ; comment ${quote(what)} ; elements = { ${ips.map(intToIpv4).join(', ')} } ; }` };
  }

  private classSet(k: number): { name: string; decl: string } | null {
    const ranges = classRanges(this.c.classes, k);
    if (!ranges.length) return null;
    const name = `class-${k}`;
    const text = ranges.map(([lo, hi]) => (lo === hi ? intToIpv4(lo) : `${intToIpv4(lo)}-${intToIpv4(hi)}`));
    return { name, decl: `add set ${T} ${name} { type ipv4_addr ; flags interval ; comment ${quote(`${rangeText(this.c.classes[k])} and no longer prefix`)} ; elements = { ${text.join(', ')} } ; }` };
  }
}

/**
 * The addresses whose address class is `k` (classOf: the longest prefix
 * holding them): class k's prefix minus every longer prefix inside it, as
 * sorted, disjoint [lo, hi] ranges.
 */
export function classRanges(classes: IpBlockRange[], k: number): [number, number][] {
  const span = (r: IpBlockRange): [number, number] => [r.net, r.net + 2 ** (32 - r.prefixLen) - 1];
  const c = classes[k];
  const holes = classes.filter((o) => o.prefixLen > c.prefixLen && ipInBlock(o.net, c)).map(span).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  const whole = span(c);
  const hi = whole[1];
  let lo = whole[0];
  for (const [hlo, hhi] of holes) {
    if (hhi < lo) continue; // inside a hole already passed (nested holes)
    if (hlo > lo) out.push([lo, hlo - 1]);
    lo = hhi + 1;
    if (lo > hi) break;
  }
  if (lo <= hi) out.push([lo, hi]);
  return out;
}

/** A double-quoted nft string (no quotes inside: nft has no escape for them), cut to what nft keeps. */
function quote(s: string): string {
  const t = s.replace(/"/g, "'");
  return `"${t.length > COMMENT_MAX ? t.slice(0, COMMENT_MAX - 3) + '...' : t}"`;
}
