// Programs one node's compiled NetworkPolicies (model/network-policy-compile.ts)
// into its data plane tables (assembly/tables/policy.ts), whole: cleared,
// then every address, prefix class and allow range. Called between batches,
// so no frame sees half a table; established flows stay in conntrack and
// keep passing whatever the new policies say (decisions are per connection).
import type { Dataplane } from './dataplane.ts';
import { classOf, peerName, CLASS_PEER_BASE, PROTO_NUMBER, type CompiledPolicies } from '../model/network-policy-compile.ts';
import { ipv4ToInt } from '../model/addr.ts';

const LOCAL_INGRESS = 1;
const LOCAL_EGRESS = 2;
const DIR = { ingress: 1, egress: 2 } as const;

/** What each data plane was last programmed with, and its class numbering, for naming trace decisions. */
const programmed = new WeakMap<Dataplane, { c: CompiledPolicies; compiledClass: Map<number, number> }>();

export interface PolicyProgram { addresses: number; classes: number; allows: number; ranges: number }

/** Write `c` into `dp`'s policy tables. Throws naming what did not fit (the tables are then empty: nothing isolated). */
export function programPolicies(dp: Dataplane, c: CompiledPolicies): PolicyProgram {
  const ex = dp.ex;
  ex.polClear();
  try {
    // the data plane scans classes in order and takes the first that holds an address: longest prefix first
    const order = c.classes.map((r, k) => ({ r, k })).sort((a, b) => b.r.prefixLen - a.r.prefixLen || a.k - b.k);
    const wasmClass = new Map<number, number>();
    for (const { r, k } of order) {
      const i = ex.polAddClass(r.net, r.prefixLen);
      if (i < 0) throw new Error(`more than ${wasmClass.size} ipBlock prefixes on node ${c.node}`);
      wasmClass.set(k, i);
    }
    const peerOf = (peer: number) => (peer >= CLASS_PEER_BASE ? (CLASS_PEER_BASE + wasmClass.get(peer - CLASS_PEER_BASE)!) >>> 0 : peer);
    const flags = new Map(c.pods.map((p) => [p.ip, (p.ingress.length ? LOCAL_INGRESS : 0) | (p.egress.length ? LOCAL_EGRESS : 0)]));
    for (const [ip, id] of c.identities) {
      if (ex.polSetAddress(ip, id, wasmClass.get(classOf(c.classes, ip))!, flags.get(ip) ?? 0) !== 0) {
        throw new Error(`node ${c.node}: the NetworkPolicy address table is full (${ex.polCapacity()} pods; cluster.policyCapacity, fixed at up)`);
      }
    }
    let ranges = 0;
    for (const a of c.allows) for (const r of a.ranges) {
      if (ex.polAddRange(a.podIp, peerOf(a.peer), DIR[a.direction], a.protocol, r.lo, r.hi, r.rule) !== 0) {
        throw new Error(`node ${c.node}: the NetworkPolicy allow table is full (${ex.polCapacity()} entries, ${2 * ex.polCapacity()} port ranges; cluster.policyCapacity, fixed at up)`);
      }
      ranges++;
    }
    programmed.set(dp, { c, compiledClass: new Map([...wasmClass].map(([k, i]) => [i, k])) });
    return { addresses: ex.polAddressCount(), classes: order.length, allows: ex.polAllowCount(), ranges };
  } catch (e) {
    ex.polClear();
    programmed.delete(dp);
    throw e;
  }
}

/** The data plane's own verdict for one new connection (tests compare it with decidePolicy). */
export function dataplaneDecides(dp: Dataplane, direction: 'ingress' | 'egress', local: number, peer: number, protocol: keyof typeof PROTO_NUMBER, port: number): boolean {
  return dp.ex.polDecide(local, peer, DIR[direction], PROTO_NUMBER[protocol], port) !== 0;
}

/**
 * A trace's policy decision in words: the isolating policies, then the rule
 * that allowed it or the peer no rule admits ("x/deny-all: no rule admits
 * y{...}"). `ruleOrPeer` is the trace record's field (assembly/trace.ts POLICY).
 */
export function policyDecisionText(dp: Dataplane, direction: 'ingress' | 'egress', local: string, allowed: boolean, ruleOrPeer: number): string | undefined {
  const p = programmed.get(dp);
  if (!p) return undefined;
  const pod = p.c.pods.find((x) => x.ip === ipv4ToInt(local));
  const by = pod ? pod[direction].join(', ') : '';
  if (allowed) {
    const r = p.c.rules[ruleOrPeer];
    return r ? `${by}: allowed by ${r.policy} ${r.direction}[${r.index}]` : by || undefined;
  }
  const peer = ruleOrPeer >= CLASS_PEER_BASE ? CLASS_PEER_BASE + (p.compiledClass.get(ruleOrPeer - CLASS_PEER_BASE) ?? 0) : ruleOrPeer;
  return `${by}: no rule admits ${peerName(p.c, peer)}`;
}
