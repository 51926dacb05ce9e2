// The --store flags shared by up, apply, status and down, turned into the
// store client's options (src/store/etcd-store.ts).
import { Command, InvalidArgumentError } from 'commander';
import type { StoreOptions } from '../store/etcd-store.ts';

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
