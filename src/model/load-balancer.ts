// LoadBalancer addresses, as MetalLB's layer-2 mode (or cloud-provider-kind)
// hands them out: a type LoadBalancer Service answers at its loadBalancerIP
// when it names one (inside the pool: that address is reserved), otherwise at
// the next free address of cluster.loadBalancerPool. What a Service already
// holds it keeps across `podwire apply`; a pool that is used up leaves the
// Service pending, saying why (status shows `<pending>`, as kubectl does).
// And which node announces each address on the underlay (answers ARP for it):
// exactly one, chosen by a hash of the Service over the eligible nodes. Pure.
import { createHash } from 'node:crypto';
import { parseCidr, containsAddress, type Cidr } from './cidr.ts';
import { ipv4ToInt, intToIpv4 } from './addr.ts';
import type { ServicePlan, LoadBalancerStatus } from './services.ts';

/** What the pool needs of the lab plan. */
export interface PoolContext {
  /** cluster.loadBalancerPool (inside underlayCIDR: topology-validate.ts) */
  loadBalancerPool?: string;
  /** its network and broadcast addresses are never handed out */
  underlayCIDR?: string;
}

const key = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;
const label = (s: { namespace: string; name: string }) => (s.namespace === 'default' ? `service ${s.name}` : `service ${s.namespace}/${s.name}`);

/**
 * Decide every LoadBalancer Service's address over the lab's whole Service
 * list (`services`, in order). `previous`: the lab's Services before this
 * change (none at `up`): a Service keeps the address it held (a pool one,
 * or its unchanged loadBalancerIP); then new explicit loadBalancerIPs are
 * claimed, and one already held is a problem blamed on the newcomer
 * ("service b: loadBalancerIP ..."); the rest get pool addresses in order.
 * Returns the list with `loadBalancer` set on each type LoadBalancer Service
 * and removed from the others.
 */
export function assignLoadBalancerAddresses(services: ServicePlan[], previous: ServicePlan[], ctx: PoolContext, problems: string[]): ServicePlan[] {
  const pool = ctx.loadBalancerPool ? parseCidr(ctx.loadBalancerPool, 'cluster.loadBalancerPool') : undefined;
  const underlay = parseCidr(ctx.underlayCIDR ?? ctx.loadBalancerPool ?? '0.0.0.0/0', 'cluster.underlayCIDR');
  const holder = new Map<string, ServicePlan>();
  const decided = new Map<ServicePlan, LoadBalancerStatus>();
  const isLb = (s: ServicePlan) => s.type === 'LoadBalancer';

  // 1. what a Service held before this change it keeps (unless it now asks for another address)
  const before = new Map(previous.map((p) => [key(p), p]));
  for (const s of services.filter(isLb)) {
    const was = before.get(key(s))?.loadBalancer?.ip;
    if (!was || (s.loadBalancerIP ? s.loadBalancerIP !== was : !(pool && containsAddress(pool, was)))) continue;
    holder.set(was, s);
    decided.set(s, { ip: was });
  }
  // 2. explicit loadBalancerIPs, in or out of the pool: a conflict is the newcomer's
  for (const s of services.filter(isLb)) {
    if (!s.loadBalancerIP || decided.has(s)) continue;
    const other = holder.get(s.loadBalancerIP);
    if (other) { problems.push(`${label(s)}: loadBalancerIP ${s.loadBalancerIP} is already the address of ${label(other)}`); continue; }
    holder.set(s.loadBalancerIP, s);
    decided.set(s, { ip: s.loadBalancerIP });
  }
  // 3. the rest, in list order, from the pool (a refused explicit one stays without)
  const free = pool ? freeAddresses(pool, underlay, holder) : undefined;
  for (const s of services.filter(isLb)) {
    if (decided.has(s) || s.loadBalancerIP) continue;
    if (!pool || !free) { decided.set(s, { pending: 'no cluster.loadBalancerPool in the topology: give the Service a loadBalancerIP, or the cluster a pool' }); continue; }
    const next = free.next();
    if (next.done) { decided.set(s, { pending: `cluster.loadBalancerPool ${pool.text} has no free address left (${poolSize(pool, underlay)} addresses, all held)` }); continue; }
    holder.set(next.value, s);
    decided.set(s, { ip: next.value });
  }
  // a Service whose status did not change stays the same object (callers compare by identity)
  return services.map((s) => {
    const st = decided.get(s);
    if (st?.ip === s.loadBalancer?.ip && st?.pending === s.loadBalancer?.pending) return s;
    const { loadBalancer: _old, ...rest } = s;
    return st ? { ...rest, loadBalancer: st } : rest;
  });
}

/** The pool's addresses in order, skipping the underlay's network and broadcast addresses and those held. */
function* freeAddresses(pool: Cidr, underlay: Cidr, held: Map<string, unknown>): Generator<string> {
  const first = ipv4ToInt(pool.range.getFirst().toString());
  const size = 2 ** (32 - pool.prefixLen);
  for (let off = 0; off < size; off++) {
    const ip = intToIpv4((first + off) >>> 0);
    if (!usable(ip, underlay) || held.has(ip)) continue;
    yield ip;
  }
}

function poolSize(pool: Cidr, underlay: Cidr): number {
  const first = ipv4ToInt(pool.range.getFirst().toString());
  let n = 0;
  for (let off = 0; off < 2 ** (32 - pool.prefixLen); off++) if (usable(intToIpv4((first + off) >>> 0), underlay)) n++;
  return n;
}

/** Not the underlay's network or broadcast address (a host on it could not use those). */
function usable(ip: string, underlay: Cidr): boolean {
  const net = ipv4ToInt(underlay.range.getFirst().toString());
  const last = ipv4ToInt(underlay.range.getLast().toString());
  const n = ipv4ToInt(ip);
  return underlay.prefixLen >= 31 || (n !== net && n !== last);
}

/**
 * The node that announces a LoadBalancer Service's address (answers ARP for
 * it, sends the gratuitous ARP): one of `eligible` chosen by a hash of the
 * Service's namespace/name and each node's name (rendezvous hashing, as
 * MetalLB's layer-2 speakers agree on an owner without talking), so adding
 * or removing a node only moves the addresses that node had or takes.
 * With externalTrafficPolicy Local only nodes with a ready local endpoint
 * are eligible (MetalLB does the same): the others would drop the traffic.
 * Undefined when no node is eligible (nothing answers: the address is dark).
 */
export function announcingNode(svc: Pick<ServicePlan, 'name' | 'namespace' | 'externalTrafficPolicy' | 'endpoints'>, nodes: string[]): string | undefined {
  const eligible = svc.externalTrafficPolicy === 'Local'
    ? nodes.filter((n) => svc.endpoints.some((e) => e.ready && e.node === n))
    : nodes;
  let best: string | undefined;
  let bestScore = '';
  for (const n of eligible) {
    const score = createHash('sha256').update(`${key(svc)}\0${n}`).digest('hex');
    if (best === undefined || score > bestScore) { best = n; bestScore = score; }
  }
  return best;
}

/** Every address each node announces: node name -> LoadBalancer addresses, over the lab's Services. */
export function announcements(services: ServicePlan[], nodes: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const s of services) {
    const ip = s.loadBalancer?.ip;
    if (s.type !== 'LoadBalancer' || !ip) continue;
    const n = announcingNode(s, nodes);
    if (n) out.get(n)!.push(ip);
  }
  return out;
}
