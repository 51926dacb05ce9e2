// The shared store of a multi-host lab, in etcd (the `etcd3` client: gRPC,
// reconnects, lease keepalives, resumable watches). The layout is schema.ts's;
// this file only talks to etcd: connect (or say clearly why not), create or
// check a lab's schema and config, take a node's lease and its pod CIDR by
// compare-and-swap, read and watch the leases and the Services.
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Lease, type Watcher } from 'etcd3';
import { parseStoreUrl, type StoreAddress } from './store-url.ts';
import {
  keys, ROOT_PREFIX, encodeSchema, checkSchema, encodeConfig, decodeConfig, encodeNodeLease, decodeNodeLease, encodeService, decodeService,
  type ClusterConfig, type NodeLease, type StoredService,
} from './schema.ts';
import { chooseSubnet, subnetHistoryKey, SUBNET_CLAIM_ATTEMPTS, type SubnetPool } from './subnet-lease.ts';

export interface StoreOptions {
  url: string;
  /** TLS (etcds://): the CA that signed the servers' certificates, and a client certificate and key if etcd asks for one */
  ca?: string;
  cert?: string;
  key?: string;
  /** etcd's user/password authentication */
  user?: string;
  password?: string;
  /** how long to wait for etcd at start before giving up (ms) */
  connectTimeoutMs?: number;
}

/** A node lease this process holds: renewed by the client's keepalive until released. */
export interface NodeClaim {
  lease: NodeLease;
  /** stop renewing and delete the node's keys now (a clean `down`) */
  release(): Promise<void>;
  /** keys to bind to the node's etcd lease (its pods): written now (those announced before and not now are deleted), and again whenever the lease is taken again */
  announce(entries: () => { key: string; value: string }[]): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** Services per transaction: etcd refuses more than 128 operations in one by default (--max-txn-ops) */
const TXN_OPS = 128;

export class SharedStore {
  private watchers: Watcher[] = [];
  private leases: Lease[] = [];

  private constructor(readonly address: StoreAddress, readonly client: Etcd3) {}

  /** Connect and prove etcd answers; throws naming the URL and the reason (nothing is created on the host before this). */
  static async connect(opts: StoreOptions): Promise<SharedStore> {
    const address = parseStoreUrl(opts.url);
    const o: IOptions = { hosts: address.hosts, dialTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS };
    if (address.tls) {
      if (!opts.ca) throw new Error(`--store ${opts.url}: etcds:// needs --store-ca FILE (the CA that signed etcd's certificate)`);
      o.credentials = { rootCertificate: readPem(opts.ca, '--store-ca'), ...(opts.cert ? { certChain: readPem(opts.cert, '--store-cert') } : {}), ...(opts.key ? { privateKey: readPem(opts.key, '--store-key') } : {}) };
    } else if (opts.ca || opts.cert || opts.key) {
      throw new Error(`--store ${opts.url}: --store-ca/--store-cert/--store-key are for TLS: use etcds://`);
    }
    if ((opts.user === undefined) !== (opts.password === undefined)) throw new Error('--store-user and --store-password go together');
    if (opts.user !== undefined) o.auth = { username: opts.user, password: opts.password! };
    const client = new Etcd3(o);
    const store = new SharedStore(address, client);
    const timeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    try {
      await withDeadline(client.get(`${ROOT_PREFIX}`).exec(), timeout, `no answer within ${timeout} ms`);
    } catch (e) {
      client.close();
      throw new Error(`cannot reach the store at ${opts.url}: ${(e as Error).message}`);
    }
    return store;
  }

  /** The labs the store holds (each has a schema key). */
  async labs(): Promise<string[]> {
    const all = await this.client.getAll().prefix(ROOT_PREFIX).keys();
    return [...new Set(all.filter((k) => k.endsWith('/schema')).map((k) => k.slice(ROOT_PREFIX.length, -'/schema'.length)))].sort();
  }

  /**
   * The lab's schema and config. With `given` (up FILE): written if the lab
   * is new; if the store already has a different config, refused — the store
   * wins, a host never rewrites a running cluster. Without: the stored one,
   * or an error saying the lab is not in the store.
   */
  async labConfig(lab: string, given?: ClusterConfig): Promise<{ config: ClusterConfig; created: boolean }> {
    const schemaKey = keys.schema(lab);
    const configKey = keys.config(lab);
    if (given) {
      const r = await this.client.if(schemaKey, 'Create', '==', 0).and(configKey, 'Create', '==', 0)
        .then(this.client.put(schemaKey).value(encodeSchema()), this.client.put(configKey).value(encodeConfig(given)))
        .commit();
      if (r.succeeded) return { config: given, created: true };
    }
    const schema = await this.client.get(schemaKey).string();
    if (schema === null) throw new Error(`the store at ${this.address.url} has no lab "${lab}"${given ? ' schema (its config key exists without one: not written by podwire?)' : ''}: start its first host with a topology file (podwire up FILE --node NAME --store ...)`);
    checkSchema(schemaKey, schema);
    const text = await this.client.get(configKey).string();
    if (text === null) throw new Error(`store key ${configKey}: missing (the lab's schema is there, its config is not)`);
    const stored = decodeConfig(configKey, text);
    if (given && JSON.stringify(stored.topology) !== JSON.stringify(given.topology)) {
      throw new Error(`lab "${lab}" in the store at ${this.address.url} has another topology (from ${stored.source}) than ${given.source}: refused, the store's wins. `
        + `Join without the file (podwire up --node NAME --store ...), or remove the lab from the store first (podwire down --store ... --name ${lab})`);
    }
    return { config: stored, created: false };
  }

  /**
   * Take node `lease.node`'s lease and its pod CIDR in one transaction, both
   * keys bound to an etcd lease of `ttlSeconds` that the client renews: two
   * hosts claiming the same node or the same range at once cannot both win.
   * Refused while another podwire holds either (its lease must expire first).
   * `onLost`: etcd let the lease expire (it was unreachable too long); the
   * claim is taken again once it answers.
   * `more.subnetFrom`: `lease.podCIDR` is not fixed: the lowest free range
   * of that pool is leased (subnet-lease.ts); when another host takes the
   * chosen one at the same moment, the next is tried. The claim's lease then
   * carries the range got, and keeps it when taken again.
   * `more.alongside`: more keys bound to the same etcd lease, written after
   * each take (the node's pods): they vanish with the node.
   */
  async claimNode(lab: string, lease: NodeLease, ttlSeconds: number, onLost: (why: string) => void,
    more: { subnetFrom?: SubnetPool; alongside?: () => { key: string; value: string }[] } = {}): Promise<NodeClaim> {
    const nodeKey = keys.node(lab, lease.node);
    const pool = more.subnetFrom;
    let alongside = more.alongside ?? (() => []);
    let current: Lease | undefined;
    let currentId = '';
    let released = false;
    /** the alongside keys written under the current lease: a key no longer announced is deleted */
    let written = new Set<string>();
    const writeAlongside = async (id: string, fresh: boolean): Promise<void> => {
      const extra = alongside();
      const gone = fresh ? [] : [...written].filter((k) => !extra.some((kv) => kv.key === k));
      const ops = [...extra.map((kv) => this.client.put(kv.key).value(kv.value).lease(id)), ...gone.map((k) => this.client.delete().key(k))];
      for (let i = 0; i < ops.length; i += TXN_OPS) {
        await this.client.if(keys.schema(lab), 'Version', '>', 0).then(...ops.slice(i, i + TXN_OPS)).commit();
      }
      written = new Set(extra.map((kv) => kv.key));
    };
    const take = async (): Promise<void> => {
      const l = this.client.lease(ttlSeconds, { autoKeepAlive: true });
      const id = await l.grant();
      try {
        for (let attempt = 1; ; attempt++) {
          // a leased range: chosen again each attempt (once got, the same one is preferred: chooseSubnet's `current`)
          if (pool) lease.podCIDR = await chooseSubnet(this.client, lab, lease.node, pool, attempt === 1 && lease.podCIDR ? lease.podCIDR : undefined);
          const subnetKey = keys.subnet(lab, lease.podCIDR);
          const puts = [
            this.client.put(nodeKey).value(encodeNodeLease(lease)).lease(id), this.client.put(subnetKey).value(lease.node).lease(id),
            ...(pool ? [this.client.put(subnetHistoryKey(lab, lease.node)).value(lease.podCIDR)] : []),
          ];
          let r = await this.client.if(nodeKey, 'Create', '==', 0).and(subnetKey, 'Create', '==', 0).then(...puts).commit();
          if (r.succeeded) break;
          // held: by this very process (etcd lost our lease and kept the keys a moment), or by someone else
          const [n, s] = await Promise.all([this.client.get(nodeKey).exec(), this.client.get(subnetKey).exec()]);
          const nkv = n.kvs[0];
          const skv = s.kvs[0];
          const holder = nkv ? decodeNodeLease(nodeKey, nkv.value.toString()) : undefined;
          const subnetHolder = skv?.value.toString();
          if (holder && holder.instance !== lease.instance) {
            throw new Error(`node ${lease.node} is already running on host ${holder.host} since ${holder.since} (${nodeKey}): refused; if that host died, its lease expires within ${ttlSeconds} s`);
          }
          if (subnetHolder !== undefined && subnetHolder !== lease.node) {
            if (pool && attempt < SUBNET_CLAIM_ATTEMPTS) continue; // another host got that range first: choose again
            throw new Error(pool
              ? `node ${lease.node}: no pod CIDR could be leased from ${pool.clusterCIDR} in ${SUBNET_CLAIM_ATTEMPTS} attempts (other hosts took each range first): refused`
              : `pod CIDR ${lease.podCIDR} of node ${lease.node} is held by node ${subnetHolder} in the store (${subnetKey}): refused`);
          }
          r = await this.client.if(nodeKey, 'Mod', '==', Number(nkv?.mod_revision ?? 0)).and(subnetKey, 'Mod', '==', Number(skv?.mod_revision ?? 0)).then(...puts).commit();
          if (r.succeeded) break;
          if (pool && attempt < SUBNET_CLAIM_ATTEMPTS) continue;
          throw new Error(`node ${lease.node}: its lease changed while being taken (another host starting it at once?): refused`);
        }
        await writeAlongside(id, true); // a new lease: the keys of the one before went with it
      } catch (e) {
        await l.revoke().catch(() => {});
        throw e;
      }
      l.on('lost', (err) => {
        if (released) return;
        onLost(err.message);
        const retry = (): void => { if (!released) take().catch(() => setTimeout(retry, 500)); };
        retry();
      });
      current = l;
      currentId = id;
      this.leases.push(l);
    };
    await take();
    return {
      lease,
      release: async () => {
        released = true;
        await current?.revoke().catch(() => {});
      },
      announce: async (entries) => {
        alongside = entries;
        await writeAlongside(currentId, false);
      },
    };
  }

  /** Every live node lease, and the revision they were read at (watch from the next one). */
  async nodeLeases(lab: string): Promise<{ leases: NodeLease[]; revision: string }> {
    const r = await this.client.getAll().prefix(keys.nodes(lab)).exec();
    return { leases: r.kvs.map((kv) => decodeNodeLease(kv.key.toString(), kv.value.toString())), revision: r.header.revision };
  }

  /** Every Service stored for the lab, with the revision read at. */
  async services(lab: string): Promise<{ services: StoredService[]; revision: string }> {
    const r = await this.client.getAll().prefix(keys.services(lab)).exec();
    return { services: r.kvs.map((kv) => decodeService(kv.key.toString(), kv.value.toString())), revision: r.header.revision };
  }

  /**
   * Write Services, TXN_OPS to a transaction (a watcher sees each
   * transaction's keys in one batch), the transactions sent at once rather
   * than one round trip after the other (etcd commits what arrives together
   * in one disk write). Each is guarded by the lab's schema key: a lab
   * removed meanwhile is named, not written into.
   */
  async putServices(lab: string, services: StoredService[]): Promise<void> {
    const txns: Promise<{ succeeded: boolean }>[] = [];
    for (let i = 0; i < services.length; i += TXN_OPS) {
      const ops = services.slice(i, i + TXN_OPS).map((s) => this.client.put(keys.service(lab, s.spec.namespace, s.spec.name)).value(encodeService(s)));
      txns.push(this.client.if(keys.schema(lab), 'Version', '>', 0).then(...ops).commit());
    }
    const done = await Promise.all(txns);
    if (done.some((r) => !r.succeeded)) throw new Error(`lab "${lab}" is no longer in the store at ${this.address.url} (its schema key is gone): ${done.filter((r) => r.succeeded).length} of ${done.length} transaction(s) written`);
  }

  async deleteServices(lab: string, refs: { namespace: string; name: string }[]): Promise<void> {
    for (const r of refs) await this.client.delete().key(keys.service(lab, r.namespace, r.name)).exec();
  }

  /** Remove a lab's every key (podwire down --store): its hosts see their config vanish. */
  async deleteLab(lab: string): Promise<number> {
    const r = await this.client.delete().prefix(keys.lab(lab)).exec();
    return Number(r.deleted);
  }

  /**
   * Watch keys under `prefix` from `afterRevision` + 1: `onBatch` gets each
   * watch response's events together (one transaction's keys arrive as one).
   * The client re-establishes the watch from the last revision seen when
   * etcd comes back: nothing is missed.
   */
  async watch(prefix: string, afterRevision: string, onBatch: (events: { type: 'put' | 'delete'; key: string; value: string }[]) => void,
    onState: (connected: boolean, why?: string) => void = () => {}): Promise<void> {
    const w = await this.client.watch().prefix(prefix).startRevision(String(BigInt(afterRevision) + 1n)).create();
    w.on('data', (res) => {
      const events = (res.events ?? []).map((e) => ({ type: e.type === 'Delete' ? 'delete' as const : 'put' as const, key: e.kv.key.toString(), value: e.kv.value.toString() }));
      if (events.length) onBatch(events);
    });
    w.on('disconnected', (err) => onState(false, err.message));
    w.on('connected', () => onState(true));
    w.on('error', (err) => onState(false, err.message));
    this.watchers.push(w);
  }

  async close(): Promise<void> {
    for (const w of this.watchers) await w.cancel().catch(() => {});
    for (const l of this.leases) l.release();
    this.client.close();
  }
}

function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`${option} ${path}: ${(e as Error).message}`);
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(why)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
