// A host following the NetworkPolicies of the shared store (policies/,
// written by `podwire apply --store`): applied or deleted through this
// host's PolicyControl, as `podwire apply` / `delete networkpolicy` on this
// host would, so its podwire and kernel nodes enforce them. Peers on other
// hosts are selected like local ones: every host plans the whole topology
// (from the store), so it knows every pod's labels and address. Events that
// arrive while a change is being programmed are gathered and applied as one
// change next.
import { keys, decodePolicy } from '../store/schema.ts';
import type { SharedStore } from '../store/etcd-store.ts';
import { policyKey, type NetworkPolicySpec } from '../model/network-policy.ts';
import type { PolicyControl } from './policy-control.ts';

export class StorePolicies {
  /** namespace/name of the policies this host has from the store */
  private readonly fromStore = new Set<string>();
  /** events not yet applied: key -> value, or null for a delete */
  private pending = new Map<string, string | null>();
  private flushing = false;
  private stopped = false;

  private constructor(private readonly lab: string, private readonly policies: Pick<PolicyControl, 'apply' | 'delete'>,
    private readonly log: (line: string) => void) {}

  /** Apply what the store holds now, then follow it (the watch resumes by itself after etcd comes back). */
  static async start(store: SharedStore, lab: string, policies: Pick<PolicyControl, 'apply' | 'delete'>, log: (line: string) => void): Promise<StorePolicies> {
    const s = new StorePolicies(lab, policies, log);
    const r = await store.client.getAll().prefix(keys.policies(lab)).exec();
    for (const kv of r.kvs) s.pending.set(kv.key.toString(), kv.value.toString());
    await s.flush();
    await store.watch(keys.policies(lab), r.header.revision, (events) => {
      if (s.stopped) return;
      for (const e of events) s.pending.set(e.key, e.type === 'put' ? e.value : null);
      void s.flush();
    });
    return s;
  }

  /** How many NetworkPolicies this host has from the store. */
  get count(): number {
    return this.fromStore.size;
  }

  stop(): void {
    this.stopped = true;
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.pending.size === 0) return;
    this.flushing = true;
    const batch = this.pending;
    this.pending = new Map();
    try {
      const put: NetworkPolicySpec[] = [];
      const gone: { namespace: string; name: string }[] = [];
      for (const [key, value] of batch) {
        if (value === null) {
          const [namespace, name] = key.slice(keys.policies(this.lab).length).split('/');
          if (this.fromStore.has(`${namespace}/${name}`)) gone.push({ namespace, name });
          continue;
        }
        try {
          put.push(decodePolicy(key, value).policy);
        } catch (e) {
          this.log(`podwire: store: ${(e as Error).message}: ignored`);
        }
      }
      const names = (xs: { name: string }[]) => `${xs.slice(0, 3).map((x) => x.name).join(', ')}${xs.length > 3 ? ', ...' : ''}`;
      if (put.length) {
        await this.policies.apply(put);
        for (const p of put) this.fromStore.add(policyKey(p));
        this.log(`podwire: store: applied ${put.length} NetworkPolicy(ies) (${names(put)})`);
      }
      if (gone.length) {
        await this.policies.delete(gone);
        for (const g of gone) this.fromStore.delete(policyKey(g));
        this.log(`podwire: store: deleted ${gone.length} NetworkPolicy(ies) (${names(gone)})`);
      }
    } catch (e) {
      this.log(`podwire: store: could not program the store's NetworkPolicies: ${(e as Error).message}`);
    } finally {
      this.flushing = false;
    }
    if (this.pending.size && !this.stopped) await this.flush();
  }
}
