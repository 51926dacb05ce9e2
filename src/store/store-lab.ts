// Finding a lab in the store and planning it as every host does: the
// commands that work on the store (up, apply, status) share these. Pod
// CIDRs the topology leaves open are leased (subnet-lease.ts): the plan
// takes them from the leases.
import type { SharedStore } from './etcd-store.ts';
import { planTopology, isValidName, type LabPlan } from '../model/topology.ts';
import type { ClusterConfig } from './schema.ts';
import type { SubnetPool } from './subnet-lease.ts';

/** cluster.nodeCIDRMaskSize when the topology does not say (topology-parse.ts: the node IPAM controller's default) */
const DEFAULT_NODE_CIDR_MASK_SIZE = 24;

/** The lab in the store: --name, else the only one there. */
export async function storeLabName(store: SharedStore, name: string | undefined): Promise<string> {
  if (name !== undefined) {
    if (!isValidName(name)) throw new Error(`--name: "${name}" is not a valid lab name (lowercase letters, digits, "-", at most 63)`);
    return name;
  }
  const labs = await store.labs();
  if (labs.length === 1) return labs[0];
  throw new Error(labs.length === 0 ? `the store at ${store.address.url} holds no lab` : `the store at ${store.address.url} holds labs ${labs.join(', ')}: say which with --name`);
}

/** The lab's plan as every host computes it: the stored topology, named as the lab is in the store. */
export function planFromConfig(lab: string, config: ClusterConfig): LabPlan {
  const plan = planTopology(config.topology, `${config.source} (the store's config)`);
  plan.name = lab;
  return plan;
}

/** The topology's nodes as written: name, and podCIDR when it fixes one. */
function topologyNodes(config: ClusterConfig): { name: string; podCIDR?: string }[] {
  const nodes = (config.topology as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) return [];
  return nodes.flatMap((n) => (n && typeof n === 'object' && typeof (n as { name?: unknown }).name === 'string'
    ? [{ name: (n as { name: string }).name, ...(typeof (n as { podCIDR?: unknown }).podCIDR === 'string' ? { podCIDR: (n as { podCIDR: string }).podCIDR } : {}) }]
    : []));
}

/** Whether node `node`'s pod CIDR is leased from the store (the topology fixes none for it). */
export function leasesItsRange(config: ClusterConfig, node: string): boolean {
  return topologyNodes(config).some((n) => n.name === node && n.podCIDR === undefined);
}

/** The pool leased ranges come from: the cluster CIDR in /nodeCIDRMaskSize pieces, minus the ranges the topology fixes. */
export function subnetPool(config: ClusterConfig): SubnetPool {
  const len = (config.topology as { cluster?: { nodeCIDRMaskSize?: unknown } }).cluster?.nodeCIDRMaskSize;
  return {
    clusterCIDR: config.clusterCIDR,
    subnetLen: typeof len === 'number' ? len : DEFAULT_NODE_CIDR_MASK_SIZE,
    reserved: topologyNodes(config).flatMap((n) => (n.podCIDR ? [n.podCIDR] : [])),
  };
}

/**
 * The lab's plan with the leased ranges in it: a node whose range the
 * topology leaves open gets the one its lease holds (`leased`: node ->
 * pod CIDR); the nodes without a lease yet are planned in what is left
 * (absent until they come, then planned again from their lease). Every host
 * computes the same from the same leases.
 */
export function planWithLeases(lab: string, config: ClusterConfig, leased: Map<string, string>): LabPlan {
  const doc = config.topology as { nodes?: unknown[] };
  if (!leased.size || !Array.isArray(doc.nodes)) return planFromConfig(lab, config);
  const nodes = doc.nodes.map((n) => {
    if (!n || typeof n !== 'object') return n;
    const x = n as { name?: unknown; podCIDR?: unknown };
    const cidr = typeof x.name === 'string' && x.podCIDR === undefined ? leased.get(x.name) : undefined;
    return cidr ? { ...x, podCIDR: cidr } : n;
  });
  return planFromConfig(lab, { ...config, topology: { ...doc, nodes } });
}
