// Finding a lab in the store and planning it as every host does: the
// commands that work on the store (up, apply, status) share these.
import type { SharedStore } from './etcd-store.ts';
import { planTopology, isValidName, type LabPlan } from '../model/topology.ts';
import type { ClusterConfig } from './schema.ts';

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
