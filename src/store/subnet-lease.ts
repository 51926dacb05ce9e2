// Pod CIDRs leased from the store, as flannel leases its subnets: a node
// whose range the topology does not fix takes the lowest free /N of the
// cluster CIDR (N: cluster.nodeCIDRMaskSize, flannel's SubnetLen). "Free"
// is read from the subnets/ keys; the claim itself is a create-only
// transaction on subnets/<net>-<len> (etcd-store.ts claimNode), so two
// hosts choosing the same range at once cannot both get it: the loser reads
// again and takes the next one. A node prefers the range it held last
// (history/subnets/<node>, kept without a lease), so a restarted node comes
// back on its addresses unless another node took them meanwhile.
import type { Etcd3 } from 'etcd3';
import { parseCidr, freeSubnets, overlaps, inside, type Cidr } from '../model/cidr.ts';
import { keys } from './schema.ts';

/** Where a node's range is chosen from when the topology gives it none. */
export interface SubnetPool {
  clusterCIDR: string;
  /** the subnets' prefix length (cluster.nodeCIDRMaskSize) */
  subnetLen: number;
  /** ranges never leased out: the topology's fixed podCIDRs (their nodes claim them by name) */
  reserved: string[];
}

/** Attempts before giving up when other hosts keep taking the range just chosen. */
export const SUBNET_CLAIM_ATTEMPTS = 64;

/** The key remembering the range node `node` held last (no lease: it outlives the node). */
export function subnetHistoryKey(lab: string, node: string): string {
  return `${keys.lab(lab)}history/subnets/${node}`;
}

/** "10.244.3.0-24" (a subnets/ key's last part) -> "10.244.3.0/24"; undefined when it is not one. */
export function subnetOfKey(lab: string, key: string): string | undefined {
  const tail = key.slice(keys.subnets(lab).length);
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})$/.exec(tail);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/**
 * The lowest /subnetLen of the pool that overlaps no taken or reserved
 * range; `preferred` instead when it is such a range. Undefined when the
 * pool is full.
 */
export function lowestFreeSubnet(pool: SubnetPool, taken: string[], preferred?: string): string | undefined {
  const cluster = parseCidr(pool.clusterCIDR, 'clusterCIDR');
  const busy: Cidr[] = [...taken, ...pool.reserved].map((t) => parseCidr(t, 'a taken range'));
  if (preferred) {
    let p: Cidr | undefined;
    try { p = parseCidr(preferred, 'the preferred range'); } catch { p = undefined; }
    if (p && p.prefixLen === pool.subnetLen && inside(p, cluster) && !busy.some((b) => overlaps(b, p!))) return p.text;
  }
  const next = freeSubnets(cluster, pool.subnetLen, busy).next();
  return next.done ? undefined : next.value.text;
}

/**
 * The range node `node` should try to take now: the one it holds already
 * (a lease being taken back), else the one it held last, else the lowest
 * free. Throws when the pool has none left, naming the pool and how many
 * ranges are leased.
 */
export async function chooseSubnet(client: Etcd3, lab: string, node: string, pool: SubnetPool, current?: string): Promise<string> {
  const [held, last] = await Promise.all([
    client.getAll().prefix(keys.subnets(lab)).exec(),
    current ? Promise.resolve(null) : client.get(subnetHistoryKey(lab, node)).string(),
  ]);
  const taken: string[] = [];
  let mine: string | undefined;
  for (const kv of held.kvs) {
    const cidr = subnetOfKey(lab, kv.key.toString());
    if (!cidr) continue; // not ours to judge: it blocks nothing we would name
    if (kv.value.toString() === node) mine ??= cidr;
    else taken.push(cidr);
  }
  const chosen = lowestFreeSubnet(pool, taken, current ?? mine ?? last ?? undefined);
  if (!chosen) throw new Error(`cluster CIDR ${pool.clusterCIDR} has no free /${pool.subnetLen} left for node ${node} (${taken.length} leased, ${pool.reserved.length} fixed by the topology)`);
  return chosen;
}
