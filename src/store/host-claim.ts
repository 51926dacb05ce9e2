// `podwire up --node NAME --store`: this host's claim on its node, taken
// before anything is created on the host (a node already running elsewhere,
// or a cluster CIDR with no range left, is refused with nothing to undo).
// A node the topology gives a podCIDR claims exactly that range; one it
// leaves open leases the lowest free range of the cluster CIDR (or the one
// it held last), and the host plans its pods in it.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { NodePlan } from '../model/topology.ts';
import type { SharedStore, NodeClaim } from './etcd-store.ts';
import type { ClusterConfig, NodeLease } from './schema.ts';
import { leasesItsRange, subnetPool } from './store-lab.ts';

export async function claimHostNode(store: SharedStore, lab: string, config: ClusterConfig, node: Pick<NodePlan, 'name' | 'podCIDR' | 'underlayIp' | 'vtepMac'>,
  ttlSeconds: number, log: (line: string) => void): Promise<NodeClaim> {
  const leased = leasesItsRange(config, node.name);
  const lease: NodeLease = {
    node: node.name, podCIDR: leased ? '' : node.podCIDR, underlayIp: node.underlayIp, vtepMac: node.vtepMac,
    host: hostname(), since: new Date().toISOString(), instance: randomBytes(8).toString('hex'),
  };
  return store.claimNode(lab, lease, ttlSeconds, (why) => log(`podwire: store: node ${node.name}'s lease lost (${why}); taking it again when etcd answers`),
    leased ? { subnetFrom: subnetPool(config) } : {});
}
