// `podwire status --store URL`: the whole cluster as the store holds it —
// every node of the topology, with its lease (pod CIDR, underlay address,
// host, since when) or none, and the Services applied through the store.
import { SharedStore } from '../store/etcd-store.ts';
import { table } from '../util/table.ts';
import { storeLabName, planFromConfig } from '../store/store-lab.ts';
import { storeOptions, type StoreFlags } from './store-options.ts';

export async function storeStatus(flags: StoreFlags & { name?: string; json?: boolean }): Promise<void> {
  const store = await SharedStore.connect(storeOptions(flags));
  try {
    const lab = await storeLabName(store, flags.name);
    const { config } = await store.labConfig(lab);
    const plan = planFromConfig(lab, config);
    const { leases } = await store.nodeLeases(lab);
    const { services } = await store.services(lab);
    const nodes = plan.nodes.map((n) => ({ node: n.name, lease: leases.find((l) => l.node === n.name) ?? null, podCIDR: n.podCIDR, address: n.underlayIp, pods: n.pods.map((p) => p.name) }));
    if (flags.json) {
      console.log(JSON.stringify({ store: flags.store, lab, config: { clusterCIDR: config.clusterCIDR, overlay: config.overlay, vxlan: config.vxlan, source: config.source }, nodes, services: services.map((s) => s.spec) }, null, 2));
      return;
    }
    console.log(`lab "${lab}" in the store at ${flags.store}: cluster ${config.clusterCIDR}, overlay ${config.overlay}${config.overlay === 'vxlan' ? ` vni ${config.vxlan.vni} port ${config.vxlan.port}` : ''} (topology from ${config.source})`);
    console.log(table(['NODE', 'POD CIDR', 'ADDRESS', 'LEASE', 'HOST', 'SINCE', 'PODS'],
      nodes.map((n) => [n.node, n.podCIDR, n.address, n.lease ? 'held' : 'none', n.lease?.host ?? '', n.lease?.since ?? '', n.pods.join(',')])));
    console.log(`${services.length} Service(s) applied through the store${services.length ? `: ${services.slice(0, 10).map((s) => `${s.spec.namespace}/${s.spec.name}`).join(', ')}${services.length > 10 ? ', ...' : ''}` : ''}`);
  } finally {
    await store.close();
  }
}
