// `podwire status --store URL`: the whole cluster as the store holds it —
// every node of the topology, with its lease (pod CIDR, underlay address,
// host, since when) or none, the pods live nodes announce, and the Services
// and NetworkPolicies applied through the store.
import { SharedStore } from '../store/etcd-store.ts';
import { table } from '../util/table.ts';
import { storeLabName, planWithLeases } from '../store/store-lab.ts';
import { storedPolicies } from '../store/store-policies.ts';
import { storedPods } from '../store/store-pods.ts';
import { storeOptions, type StoreFlags } from './store-options.ts';

export async function storeStatus(flags: StoreFlags & { name?: string; json?: boolean }): Promise<void> {
  const store = await SharedStore.connect(storeOptions(flags));
  try {
    const lab = await storeLabName(store, flags.name);
    const { config } = await store.labConfig(lab);
    const { leases } = await store.nodeLeases(lab);
    // ranges the topology leaves open are the leases' (the same plan every host makes)
    const plan = planWithLeases(lab, config, new Map(leases.map((l) => [l.node, l.podCIDR])));
    const { services } = await store.services(lab);
    const { policies } = await storedPolicies(store, lab);
    const stored = await storedPods(store, lab);
    for (const b of stored.bad) console.error(`podwire: store: ${b}: skipped`);
    // a node with a lease: the pods its podwire announced; without: the topology's (not running)
    const nodes = plan.nodes.map((n) => {
      const lease = leases.find((l) => l.node === n.name) ?? null;
      const pods = lease ? stored.pods.filter((p) => p.node === n.name).map((p) => p.name).sort() : n.pods.map((p) => p.name);
      return { node: n.name, lease, podCIDR: n.podCIDR, address: n.underlayIp, pods };
    });
    if (flags.json) {
      console.log(JSON.stringify({
        store: flags.store, lab, config: { clusterCIDR: config.clusterCIDR, overlay: config.overlay, vxlan: config.vxlan, source: config.source }, nodes,
        pods: stored.pods, services: services.map((s) => s.spec), networkPolicies: policies.map((p) => ({ namespace: p.policy.namespace, name: p.policy.name, origin: p.origin })),
      }, null, 2));
      return;
    }
    console.log(`lab "${lab}" in the store at ${flags.store}: cluster ${config.clusterCIDR}, overlay ${config.overlay}${config.overlay === 'vxlan' ? ` vni ${config.vxlan.vni} port ${config.vxlan.port}` : ''} (topology from ${config.source})`);
    console.log(table(['NODE', 'POD CIDR', 'ADDRESS', 'LEASE', 'HOST', 'SINCE', 'PODS'],
      nodes.map((n) => [n.node, n.podCIDR, n.address, n.lease ? 'held' : 'none', n.lease?.host ?? '', n.lease?.since ?? '', n.pods.join(',')])));
    if (policies.length) console.log(`${policies.length} NetworkPolicy(ies) applied through the store: ${policies.slice(0, 10).map((p) => `${p.policy.namespace}/${p.policy.name}`).join(', ')}${policies.length > 10 ? ', ...' : ''}`);
    console.log(`${services.length} Service(s) applied through the store${services.length ? `: ${services.slice(0, 10).map((s) => `${s.spec.namespace}/${s.spec.name}`).join(', ')}${services.length > 10 ? ', ...' : ''}` : ''}`);
  } finally {
    await store.close();
  }
}
