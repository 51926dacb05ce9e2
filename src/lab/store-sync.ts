// A host's link with the shared store (`podwire up --store`): it holds this
// node's lease (taken before the lab was made: store/host-claim.ts) with the
// node's pods bound to it, then follows the store as flanneld and
// kube-proxy follow theirs — each change is programmed through the same
// paths a local change takes:
//  - node leases (leases/nodes/): a node whose lease exists is reachable,
//    any other node of the topology is absent (Lab.setAbsentNodes: no route
//    to it, its pods leave the Services' endpoints); a node whose leased
//    pod CIDR is not the one planned here is re-addressed (store-subnets.ts);
//  - Services (services/): applied or deleted through ServiceControl, as
//    `podwire apply` / `delete service` on this host would. Events are
//    gathered for the rest of the event-loop turn they arrive in (and while
//    a batch is being applied), then applied as one batch: one plan, one
//    request to the data plane, however many transactions brought them.
// Watches resume by themselves when etcd comes back (the client re-watches
// from the last revision it saw); while it is away the data plane keeps
// forwarding with what it has.
import { localNodes, type LabPlan } from '../model/topology.ts';
import type { ApplyInput } from '../model/apply.ts';
import { keys, decodeNodeLease, decodeService, type NodeLease, type ClusterConfig } from '../store/schema.ts';
import type { SharedStore, NodeClaim } from '../store/etcd-store.ts';
import { podEntries } from '../store/store-pods.ts';
import { readdressFromLeases } from './store-subnets.ts';
import type { Lab } from './lab.ts';
import type { ServiceControl, ServiceChangeReply } from './service-control.ts';

/** How long a stopping host waits for etcd to take its lease back. */
const STOP_TIMEOUT_MS = 1000;

export interface StoreSyncOptions {
  /** this node's lease, taken before the lab was made (store/host-claim.ts) */
  claim: NodeClaim;
  /** the lab's config as the store holds it: pod CIDRs the topology leaves open follow the leases (store-subnets.ts) */
  config: ClusterConfig;
  log: (line: string) => void;
  /** other nodes' pods changed address (their leased range moved): Service endpoints and NetworkPolicy peers to program again */
  podsMoved?: () => Promise<void>;
}

/** What `podwire status` shows of the store. */
export interface StoreStatus { url: string; lab: string; connected: boolean; liveNodes: string[]; absentNodes: string[]; services: number }

export class StoreSync {
  private claim?: NodeClaim;
  private readonly live = new Map<string, NodeLease>();
  private readonly storedServices = new Set<string>();
  private connected = true;
  /** Service events not yet applied (key -> value, or null for a delete), applied as one batch */
  private pending = new Map<string, string | null>();
  /** when the oldest pending event arrived (performance.now()), for the "waited" figure of the log line */
  private pendingSince?: number;
  private flushScheduled = false;
  private flushing = false;
  /** stop() was called: events still arriving are ignored (the lab is going down) */
  private stopped = false;

  private constructor(private readonly store: SharedStore, private readonly lab: Lab, private readonly services: ServiceControl,
    private readonly name: string, private readonly opts: StoreSyncOptions) {}

  static async start(store: SharedStore, lab: Lab, services: ServiceControl, opts: StoreSyncOptions): Promise<StoreSync> {
    const plan = lab.plan;
    const me = localNodes(plan)[0];
    const s = new StoreSync(store, lab, services, plan.name, opts);
    // the node's lease was taken before the lab was made (store/host-claim.ts); its pods now join it (pods/<ns>/<name>)
    s.claim = opts.claim;
    await s.announcePods();

    // Services first (so this host serves what the others serve), then the leases; each watched from the revision read
    const stored = await store.services(plan.name);
    for (const x of stored.services) s.pending.set(keys.service(plan.name, x.spec.namespace, x.spec.name), JSON.stringify(x));
    await s.flush();
    await store.watch(keys.services(plan.name), stored.revision, (events) => {
      if (s.stopped) return;
      s.pendingSince ??= performance.now();
      for (const e of events) s.pending.set(e.key, e.type === 'put' ? e.value : null);
      s.scheduleFlush();
    }, (up, why) => s.setConnected(up, why));
    const nodes = await store.nodeLeases(plan.name);
    for (const l of nodes.leases) s.live.set(l.node, l);
    await s.programAbsent();
    await store.watch(keys.nodes(plan.name), nodes.revision, (events) => {
      if (s.stopped) return;
      for (const e of events) {
        const node = e.key.slice(keys.nodes(plan.name).length);
        if (e.type === 'delete') s.live.delete(node);
        else {
          try {
            s.live.set(node, decodeNodeLease(e.key, e.value));
          } catch (err) {
            opts.log(`podwire: store: ${(err as Error).message}: ignored`);
          }
        }
      }
      void s.programAbsent().catch((err) => opts.log(`podwire: store: could not program node changes: ${(err as Error).message}`));
    }, (up, why) => s.setConnected(up, why));
    return s;
  }

  /** Write this node's pods as they are now (pods/<ns>/<name>): at start, and when a container runtime attached or removed one. */
  announcePods(): Promise<void> {
    const me = localNodes(this.lab.plan)[0];
    return this.claim!.announce(() => podEntries(this.name, me.pods));
  }

  status(): StoreStatus {
    return {
      url: this.store.address.url, lab: this.name, connected: this.connected,
      liveNodes: [...this.live.keys()].sort(), absentNodes: this.lab.plan.absentNodes ?? [], services: this.storedServices.size,
    };
  }

  /** Give the lease back (a clean stop: the other hosts drop this node at once, not after the TTL). */
  async stop(): Promise<void> {
    this.stopped = true;
    // etcd away: do not hold the teardown up; the lease then simply expires
    const release = async () => {
      await this.claim?.release().catch(() => {});
      await this.store.close().catch(() => {});
    };
    await Promise.race([release(), new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref())]);
  }

  private setConnected(up: boolean, why?: string): void {
    if (up === this.connected) return;
    this.connected = up;
    this.opts.log(up ? 'podwire: store: watching again (etcd answers)' : `podwire: store: lost etcd (${why ?? 'disconnected'}); the data plane keeps what it has`);
  }

  /** the absent set last programmed (comma-joined); undefined before the first time */
  private lastAbsent: string | undefined;
  /** Every node of the topology without a lease is absent; program only when that set changed. */
  private async programAbsent(): Promise<void> {
    const plan = this.lab.plan;
    // leased ranges that moved: the plan's nodes re-addressed first, so routes and endpoints below use the new addresses
    let moved: string[] = [];
    try {
      moved = readdressFromLeases(plan, this.opts.config, this.live);
    } catch (e) {
      this.opts.log(`podwire: store: the leases' pod CIDRs do not fit the topology (${(e as Error).message}): addresses kept`);
    }
    for (const [node, l] of this.live) {
      const n = plan.nodes.find((x) => x.name === node);
      if (n && (n.podCIDR !== l.podCIDR || n.underlayIp !== l.underlayIp)) {
        this.opts.log(`podwire: store: node ${node}'s lease says pod CIDR ${l.podCIDR} at ${l.underlayIp}, the topology ${n.podCIDR} at ${n.underlayIp}: the topology's is programmed`);
      }
    }
    const absent = plan.nodes.filter((n) => n.name !== plan.hostNode && !this.live.has(n.name)).map((n) => n.name);
    const key = absent.join(',');
    if (key === this.lastAbsent && !moved.length) return;
    const first = this.lastAbsent === undefined;
    const before = new Set(this.lastAbsent ? this.lastAbsent.split(',') : []);
    this.lastAbsent = key;
    await this.lab.setAbsentNodes(absent);
    if (moved.length) {
      await this.opts.podsMoved?.();
      const live = moved.filter((n) => this.live.has(n));
      if (live.length) this.opts.log(`podwire: store: node(s) ${live.map((n) => `${n} (${plan.nodes.find((x) => x.name === n)!.podCIDR})`).join(', ')} leased another pod CIDR than planned here: routes, endpoints and policies follow`);
    }
    if (first) return;
    const left = absent.filter((n) => !before.has(n));
    const came = [...before].filter((n) => !absent.includes(n));
    if (left.length) this.opts.log(`podwire: store: node(s) ${left.join(', ')} left (no lease): routes and endpoints removed`);
    if (came.length) this.opts.log(`podwire: store: node(s) ${came.join(', ')} joined (lease taken): routes and endpoints added`);
  }

  /** Flush once the watch responses already read in this turn of the event loop are in (one batch for all of them). */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * Apply the pending Service events: deletes as one delete, then puts as
   * one apply (an address a delete frees may be what a put asks for). One
   * line per batch once the data plane has it (ServiceControl answers after
   * every local node acknowledged its tables), with where the time went.
   */
  private async flush(): Promise<void> {
    if (this.flushing || this.pending.size === 0 || this.stopped) return;
    this.flushing = true;
    const batch = this.pending;
    const waitedMs = performance.now() - (this.pendingSince ?? performance.now());
    this.pending = new Map();
    this.pendingSince = undefined;
    try {
      const input: ApplyInput = { services: [], origins: [], source: `store ${this.store.address.url}` };
      const gone: { namespace: string; name: string }[] = [];
      const inLab = new Set(this.lab.plan.services.map((s) => `${s.namespace}/${s.name}`));
      for (const [key, value] of batch) {
        if (value === null) {
          const [namespace, name] = key.slice(keys.services(this.name).length).split('/');
          // one this host refused is not in its lab: nothing to delete
          if (this.storedServices.delete(`${namespace}/${name}`) && inLab.has(`${namespace}/${name}`)) gone.push({ namespace, name });
          continue;
        }
        try {
          const s = decodeService(key, value);
          input.services.push(s.spec);
          input.origins.push(`${key} (${s.origin})`);
          this.storedServices.add(`${s.spec.namespace}/${s.spec.name}`);
        } catch (e) {
          this.opts.log(`podwire: store: ${(e as Error).message}: ignored`);
        }
      }
      if (gone.length) {
        try {
          const r = await this.services.deleteFromStore(gone);
          this.opts.log(`podwire: store: deleted ${gone.length} Service(s) (${names(gone)})${timing(r, waitedMs)}`);
        } catch (e) {
          this.opts.log(`podwire: store: could not delete the store's Services ${names(gone)}: ${(e as Error).message}`);
        }
      }
      if (input.services.length) await this.apply(input, waitedMs);
    } finally {
      this.flushing = false;
    }
    if (this.pending.size) await this.flush();
  }

  /**
   * A batch's puts as one apply. Refused whole (one stored Service conflicts
   * with the lab: an address taken, the table full), its Services are tried
   * one by one: one bad value keeps only itself out, named by its key.
   */
  private async apply(input: ApplyInput, waitedMs: number): Promise<void> {
    try {
      const r = await this.services.applyFromStore(input);
      this.opts.log(`podwire: store: applied ${input.services.length} Service(s) (${names(input.services)})${timing(r, waitedMs)}`);
      return;
    } catch (e) {
      if (input.services.length === 1) {
        this.opts.log(`podwire: store: could not apply ${input.origins[0]}: ${(e as Error).message}`);
        return;
      }
      this.opts.log(`podwire: store: the batch of ${input.services.length} Services was refused (${(e as Error).message}); applying them one by one`);
    }
    for (let i = 0; i < input.services.length; i++) {
      await this.apply({ services: [input.services[i]], origins: [input.origins[i]], source: input.source }, 0);
    }
  }
}

/** "s0, s1, s2, ..." */
const names = (xs: { name: string }[]) => `${xs.slice(0, 3).map((x) => x.name).join(', ')}${xs.length > 3 ? ', ...' : ''}`;

/** ": 3 frontend(s) programmed; waited 0.2 ms, planned 1.0 ms, programmed 2.1 ms" — where a batch's time went on this host. */
function timing(r: ServiceChangeReply, waitedMs: number): string {
  const f = r.frontends;
  const changed = f ? f.added + f.updated + f.removed : 0;
  return `: ${changed} frontend(s) programmed; waited ${waitedMs.toFixed(1)} ms, planned ${r.planMs.toFixed(1)} ms, programmed ${r.programMs.toFixed(1)} ms`;
}
