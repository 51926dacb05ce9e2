// NetworkPolicies in the shared store (`podwire apply FILE --store`,
// `podwire delete networkpolicy NAME --store`): written under policies/ as
// Kubernetes specs (schema.ts StoredPolicy), created or replaced by
// namespace/name as kubectl does; every host follows them and programs them
// through its PolicyControl (src/lab/store-policies.ts). The selectors reach
// pods on every host: each host plans the whole topology from the store, so
// it knows every pod's labels and address; the namespaces' labels come from
// the same stored topology (apply carries no Namespace objects).
import type { Located } from '../model/ingress.ts';
import { policyKey, type NetworkPolicySpec } from '../model/network-policy.ts';
import type { ApplyAction } from '../model/apply.ts';
import { SharedStore, type StoreOptions } from './etcd-store.ts';
import { keys, decodePolicy, encodePolicy, type StoredPolicy } from './schema.ts';
import { storeLabName } from './store-lab.ts';

/** etcd refuses more than 128 operations in one transaction by default (--max-txn-ops) */
const TXN_OPS = 128;

/** Every NetworkPolicy stored for the lab, and the revision read at (watch from the next one). A value that does not decode throws, naming its key. */
export async function storedPolicies(store: SharedStore, lab: string): Promise<{ policies: StoredPolicy[]; revision: string }> {
  const r = await store.client.getAll().prefix(keys.policies(lab)).exec();
  return { policies: r.kvs.map((kv) => decodePolicy(kv.key.toString(), kv.value.toString())), revision: r.header.revision };
}

export interface PolicyStoreResult { namespace: string; name: string; action: ApplyAction }

/** Write `policies` to the store's lab (created, configured or unchanged, as kubectl says). */
export async function applyPoliciesToStore(opts: StoreOptions, name: string | undefined, source: string, policies: Located<NetworkPolicySpec>[]): Promise<PolicyStoreResult[]> {
  const store = await SharedStore.connect(opts);
  try {
    const lab = await storeLabName(store, name);
    await store.labConfig(lab); // the lab must be there, of this schema
    const had = new Map((await storedPolicies(store, lab)).policies.map((s) => [policyKey(s.policy), s.policy]));
    const results = policies.map(({ value: p }): PolicyStoreResult => {
      const before = had.get(policyKey(p));
      // compared in the stored form: what a host reads back
      const same = before && encodePolicy({ policy: before, origin: '-' }) === encodePolicy({ policy: p, origin: '-' });
      return { namespace: p.namespace, name: p.name, action: !before ? 'created' : same ? 'unchanged' : 'configured' };
    });
    const changed = policies.filter((_, i) => results[i].action !== 'unchanged');
    for (let i = 0; i < changed.length; i += TXN_OPS) {
      const ops = changed.slice(i, i + TXN_OPS).map((l) => store.client.put(keys.policy(lab, l.value.namespace, l.value.name)).value(encodePolicy({ policy: l.value, origin: `${source} ${l.origin}` })));
      // only while the lab exists: a `down --store` meanwhile must not leave stray keys
      await store.client.if(keys.schema(lab), 'Version', '>', 0).then(...ops).commit();
    }
    return results;
  } finally {
    await store.close();
  }
}

/** Delete these policies from the store's lab; throws naming any it does not hold (then nothing is deleted). */
export async function deletePoliciesFromStore(opts: StoreOptions, name: string | undefined, refs: { namespace: string; name: string }[]): Promise<string[]> {
  const store = await SharedStore.connect(opts);
  try {
    const lab = await storeLabName(store, name);
    await store.labConfig(lab);
    const have = new Set((await storedPolicies(store, lab)).policies.map((s) => policyKey(s.policy)));
    const missing = refs.filter((r) => !have.has(policyKey(r)));
    if (missing.length) {
      throw new Error(`not in the store's lab "${lab}": ${missing.map((r) => `networkpolicies.networking.k8s.io "${r.name}" in namespace ${r.namespace}`).join(', ')} (only NetworkPolicies applied with --store are there)`);
    }
    const ops = refs.map((r) => store.client.delete().key(keys.policy(lab, r.namespace, r.name)));
    for (let i = 0; i < ops.length; i += TXN_OPS) await store.client.if(keys.schema(lab), 'Version', '>', 0).then(...ops.slice(i, i + TXN_OPS)).commit();
    return refs.map((r) => r.name);
  } finally {
    await store.close();
  }
}
