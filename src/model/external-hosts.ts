// Hosts outside the cluster (the topology's `external:` list): a laptop on
// the same LAN as the nodes. Each is a namespace pw-<name> on the underlay
// with an address of cluster.underlayCIDR (given, or the next free one after
// the nodes'). They are not nodes: no route to pod or Service ranges, so they
// reach node addresses, NodePorts and LoadBalancer addresses only. Pure.
import { containsAddress, nthAddress, type Cidr } from './cidr.ts';
import { ipv4ToInt, isIpv4, macForIp } from './addr.ts';
import { isObject, unknownKeys } from './fields.ts';
import { NS_PREFIX, NAME_RE, MAX_NAME } from './topology-types.ts';

export const EXTERNAL_KEYS = ['name', 'address'];

export interface ExternalInput {
  name: string;
  /** as written (checked by planExternalHosts) */
  address?: unknown;
  /** external[i], for messages */
  where: string;
}

export interface ExternalHostPlan {
  name: string;
  /** the Linux network namespace: pw-<name> */
  netns: string;
  /** its address on the underlay (prefix: the underlay's) */
  ip: string;
  mac: string;
}

/** The topology's `external:` list, its shape checked (problems recorded). */
export function parseExternalList(raw: unknown, problems: string[]): ExternalInput[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) { problems.push('external: expected a list like [{ name: laptop }]'); return []; }
  return raw.flatMap((e, i): ExternalInput[] => {
    const where = `external[${i}]`;
    const entry = typeof e === 'string' ? { name: e } : e;
    if (!isObject(entry)) { problems.push(`${where}: expected a name or { name, address }`); return []; }
    unknownKeys(entry, EXTERNAL_KEYS, `${where}.`, problems);
    const name = typeof entry.name === 'string' ? entry.name : '';
    if (!NAME_RE.test(name) || NS_PREFIX.length + name.length > MAX_NAME) {
      problems.push(`${where}.name: ${JSON.stringify(entry.name)} is not a valid host name (lowercase letters, digits, "-", at most ${MAX_NAME - NS_PREFIX.length})`);
      return [];
    }
    return [{ name, where, ...(entry.address !== undefined ? { address: entry.address } : {}) }];
  });
}

/**
 * Addresses for the external hosts: a given one must be a host address of
 * underlayCIDR, not a node's and not in the LoadBalancer pool; the others
 * get the next free address after the nodes' (skipping the pool). Names must
 * not clash with each other or with a pod's namespace (both are pw-<name>).
 */
export function planExternalHosts(hosts: ExternalInput[], underlay: Cidr, nodeIps: string[], pool: Cidr | undefined, podNetns: string[], problems: string[]): ExternalHostPlan[] {
  const taken = new Set(nodeIps);
  const names = new Set<string>();
  const pods = new Set(podNetns);
  const size = 2 ** (32 - underlay.prefixLen);
  const isHost = (ip: string) => {
    const off = ipv4ToInt(ip) - ipv4ToInt(nthAddress(underlay, 0));
    return off > 0 && off < size - 1;
  };
  for (const h of hosts) {
    if (names.has(h.name)) problems.push(`${h.where}.name: "${h.name}" is listed twice`);
    names.add(h.name);
    if (pods.has(NS_PREFIX + h.name)) problems.push(`${h.where}.name: "${h.name}" would be namespace ${NS_PREFIX}${h.name}, which a pod of that name already has`);
    if (h.address === undefined) continue;
    const ip = h.address;
    if (typeof ip !== 'string' || !isIpv4(ip)) { problems.push(`${h.where}.address: ${JSON.stringify(ip)} is not an IPv4 address`); continue; }
    if (!containsAddress(underlay, ip) || !isHost(ip)) problems.push(`${h.where}.address: ${ip} is not a host address of cluster.underlayCIDR ${underlay.text} (external hosts sit on the underlay)`);
    else if (taken.has(ip)) problems.push(`${h.where}.address: ${ip} is already a node's or another external host's address`);
    else if (pool && containsAddress(pool, ip)) problems.push(`${h.where}.address: ${ip} is inside cluster.loadBalancerPool ${pool.text}`);
    taken.add(ip);
  }
  let next = nodeIps.length + 1;
  return hosts.map((h) => {
    if (typeof h.address === 'string') return { name: h.name, netns: NS_PREFIX + h.name, ip: h.address, mac: macForIp(h.address) };
    while (next < size - 1 && (taken.has(nthAddress(underlay, next)) || (pool && containsAddress(pool, nthAddress(underlay, next))))) next++;
    if (next >= size - 1) { problems.push(`${h.where}: cluster.underlayCIDR ${underlay.text} has no free address left for external host ${h.name}`); return undefined; }
    const ip = nthAddress(underlay, next++);
    taken.add(ip);
    return { name: h.name, netns: NS_PREFIX + h.name, ip, mac: macForIp(ip) };
  }).filter((h): h is ExternalHostPlan => h !== undefined);
}
