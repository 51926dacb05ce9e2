// Pods in the shared store (pods/<ns>/<name>: node, IP, labels): each host
// writes its node's pods bound to the node's etcd lease (etcd-store.ts
// claimNode), so they leave the store with the node; `podwire status
// --store` lists them from there.
import type { PodPlan } from '../model/topology.ts';
import type { SharedStore } from './etcd-store.ts';
import { keys, encodePod, decodePod, type StoredPod } from './schema.ts';

/** The keys and values announcing `pods` (one node's) in lab `lab`. */
export function podEntries(lab: string, pods: Pick<PodPlan, 'name' | 'k8sNamespace' | 'node' | 'ip' | 'labels'>[]): { key: string; value: string }[] {
  return pods.map((p) => ({
    key: keys.pod(lab, p.k8sNamespace, p.name),
    value: encodePod({ name: p.name, namespace: p.k8sNamespace, node: p.node, ip: p.ip, labels: { ...p.labels } }),
  }));
}

/** Every pod the lab's live nodes announce; a value that does not decode is skipped and named in `bad`. */
export async function storedPods(store: SharedStore, lab: string): Promise<{ pods: StoredPod[]; bad: string[] }> {
  const r = await store.client.getAll().prefix(keys.pods(lab)).exec();
  const pods: StoredPod[] = [];
  const bad: string[] = [];
  for (const kv of r.kvs) {
    try {
      pods.push(decodePod(kv.key.toString(), kv.value.toString()));
    } catch (e) {
      bad.push((e as Error).message);
    }
  }
  return { pods, bad };
}
