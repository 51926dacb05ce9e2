// `podwire apply FILE --store` / `delete service --store`: the change is
// planned here against the store's lab (its topology and the Services stored
// so far) exactly as a host would plan it, so a bad file is refused before
// anything is written; the Services go into the store with their ClusterIPs
// and nodePorts decided, and every host applies the same (lab/store-sync.ts).
import { planApply, serviceKey, type ApplyInput, type ApplyResult } from '../model/apply.ts';
import type { ServicePlan, ServiceSpec } from '../model/services.ts';
import { SharedStore, type StoreOptions } from './etcd-store.ts';
import type { StoredService } from './schema.ts';
import { storeLabName, planFromConfig } from './store-lab.ts';

/** Where an `apply --store` spent its time (ms): connecting, reading the lab and its Services, planning, writing (bench store). */
export interface StoreApplyTimings { connectMs: number; readMs: number; planMs: number; writeMs: number }

export async function applyToStore(opts: StoreOptions, name: string | undefined, input: Omit<ApplyInput, 'networkPolicies'>, timings?: StoreApplyTimings): Promise<ApplyResult[]> {
  let t = performance.now();
  const lap = (phase: keyof StoreApplyTimings) => {
    const now = performance.now();
    if (timings) timings[phase] = now - t;
    t = now;
  };
  const store = await SharedStore.connect(opts);
  lap('connectMs');
  try {
    const lab = await storeLabName(store, name);
    // the lab's config and its Services: two reads at once
    const [{ config }, stored] = await Promise.all([store.labConfig(lab), store.services(lab)]);
    lap('readMs');
    const plan = planFromConfig(lab, config);
    if (stored.services.length) {
      // What the change is checked against: every stored Service's addresses, nodePorts, ports and LoadBalancer order, in
      // store order; endpoints only for those the change names (to tell "unchanged" from "configured") — choosing the
      // others' endpoints would cost half the planning and decide nothing here (each host chooses them for itself)
      const named = new Set(input.services.map(serviceKey));
      const specs = stored.services.map((s) => (named.has(serviceKey(s.spec)) ? s.spec : withoutEndpoints(s.spec)));
      plan.services = planApply(plan, { services: specs, origins: stored.services.map((s) => s.origin), source: `store ${opts.url}` }).services;
    }
    const change = planApply(plan, input); // throws, naming the file and document, on any problem: nothing written
    const byKey = new Map(change.services.map((s) => [serviceKey(s), s]));
    const out: StoredService[] = input.services.map((spec, i) => ({ spec: decided(spec, byKey.get(serviceKey(spec))!), origin: `${input.source} ${input.origins[i]}` }));
    lap('planMs');
    await store.putServices(lab, out);
    lap('writeMs');
    return change.results;
  } finally {
    await store.close();
  }
}

export async function deleteFromStore(opts: StoreOptions, name: string | undefined, refs: { namespace: string; name: string }[]): Promise<string[]> {
  const store = await SharedStore.connect(opts);
  try {
    const lab = await storeLabName(store, name);
    const have = new Set((await store.services(lab)).services.map((s) => `${s.spec.namespace}/${s.spec.name}`));
    const missing = refs.filter((r) => !have.has(`${r.namespace}/${r.name}`));
    if (missing.length) throw new Error(`not in the store's lab "${lab}": service(s) ${missing.map((r) => `${r.namespace}/${r.name}`).join(', ')} (only Services applied with --store are there)`);
    await store.deleteServices(lab, refs);
    return refs.map((r) => r.name);
  } finally {
    await store.close();
  }
}

/** A stored Service as the writer checks a change against it: no selector, no explicit endpoints. */
function withoutEndpoints(spec: ServiceSpec): ServiceSpec {
  const { selector: _selector, endpoints: _endpoints, ...rest } = spec;
  return rest;
}

/** The spec with what allocation decided pinned (ClusterIP, nodePorts): every host then programs the same addresses. */
function decided(spec: ServiceSpec, plan: ServicePlan): ServiceSpec {
  return {
    ...spec,
    ...(plan.clusterIP ? { clusterIP: plan.clusterIP } : {}),
    ports: spec.ports.map((p, i) => (plan.ports[i]?.nodePort ? { ...p, nodePort: plan.ports[i].nodePort } : p)),
  };
}
