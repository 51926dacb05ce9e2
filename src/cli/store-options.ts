// The --store flags shared by up, apply, status and down, and what every
// one of them does first: connect (or fail saying why) and find the lab.
import { Command, InvalidArgumentError } from 'commander';
import { SharedStore, type StoreOptions } from '../store/etcd-store.ts';
import { planTopology, isValidName, type LabPlan } from '../model/topology.ts';
import type { ClusterConfig } from '../store/schema.ts';

export interface StoreFlags {
  store?: string;
  storeCa?: string;
  storeCert?: string;
  storeKey?: string;
  storeUser?: string;
  storePassword?: string;
}

/** Default node lease TTL: how long the other hosts keep a dead host's routes and endpoints. */
export const DEFAULT_STORE_TTL_SECONDS = 10;

export function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--store <url>', 'a multi-host lab\'s shared store: etcd://HOST:PORT[,HOST:PORT] (etcds:// for TLS)')
    .option('--store-ca <file>', 'etcds://: the CA certificate (PEM) that signed etcd\'s')
    .option('--store-cert <file>', 'etcds://: a client certificate (PEM), when etcd asks for one')
    .option('--store-key <file>', 'etcds://: the client certificate\'s key (PEM)')
    .option('--store-user <user>', 'etcd user (etcd authentication)')
    .option('--store-password <password>', 'etcd user\'s password');
}

export function parseTtl(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 3600) throw new InvalidArgumentError('expected whole seconds from 1 to 3600.');
  return n;
}

export function storeOptions(f: StoreFlags): StoreOptions {
  return { url: f.store!, ca: f.storeCa, cert: f.storeCert, key: f.storeKey, user: f.storeUser, password: f.storePassword };
}

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
