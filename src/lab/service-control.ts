// The running lab's side of `podwire apply`, `podwire delete service` and
// `podwire conntrack`, reached through the control socket (up.ts).
//
// An apply is computed whole first (src/model/apply.ts: stable allocation,
// every check against the lab's plan); only a valid result reaches the data
// plane: each local podwire node gets the frontends of the Services that
// changed (serviceFrontends, the one source of a node's frontend list) and
// programs them as a diff (src/dataplane/service-sync.ts). Only once every
// node has them does the plan change (so `status` shows them), the state
// file record them, and onServicesChanged hooks run. The state file is a
// record nothing reads back while the lab runs: a change from the shared
// store schedules it (one write for a burst of batches, after the data
// plane has them) instead of rewriting it per batch; a request from the
// control socket writes it before answering. Should a node refuse
// (it checks its table sizes before touching anything), the nodes already
// done are put back: nothing is half-applied. Requests run one at a time.
// The Ingress controller (ingress.ts) takes part in every request: its new
// configuration is rendered against the Services after the change before
// anything is programmed (a problem refuses the whole request), and nginx
// reloads last, once the data plane has the Services' new endpoints.
import { localNodes, type LabPlan } from '../model/topology.ts';
import { planApply, planDelete, serviceKey, ingressObjectCount, type ApplyInput, type ApplyResult, type ServiceChange } from '../model/apply.ts';
import type { ServicePlan } from '../model/services.ts';
import { reselectEndpoints } from '../model/attached-pods.ts';
import type { IngressObjects } from '../model/ingress-pod.ts';
import type { IngressChange } from './ingress.ts';
import { isNamespace } from '../model/services.ts';
import { CT_PROTO, type CtTuple } from '../dataplane/dataplane.ts';
import type { EngineServiceConfig } from '../dataplane/engine-protocol.ts';
import { serviceFrontends, type Lab } from './lab.ts';
import { writeState } from './state.ts';

/** What `podwire apply` / `delete` print from: one result per Service, and how long the data plane took. */
export interface ServiceChangeReply {
  results: ApplyResult[];
  planMs: number;
  programMs: number;
  /** frontends the data plane (re)programmed, summed over the local podwire nodes: only the changed Services' */
  frontends?: { added: number; updated: number; removed: number; unchanged: number };
}

/** How long a change from the shared store may leave the state file behind: a burst of batches is one write. */
const STATE_WRITE_DELAY_MS = 100;

/** One connection as `podwire conntrack --json` lists it. */
export interface ConntrackEntryJson {
  node: string;
  proto: 'tcp' | 'udp' | 'icmp' | string;
  /** the data plane's state name (assembly/tables/conntrack.ts): established, syn_sent, ... for TCP; unreplied/replied for UDP */
  state: string;
  /** seconds left before the entry expires (as conntrack -L's third column) */
  timeoutSeconds: number;
  orig: CtTuple;
  /** the tuple replies carry: after a Service DNAT its source is the backend */
  reply: CtTuple;
  assured: boolean;
  seenReply: boolean;
}

const PROTO_NAME = Object.fromEntries(Object.entries(CT_PROTO).map(([k, v]) => [v, k])) as Record<number, string>;

export class ServiceControl {
  private queue: Promise<unknown> = Promise.resolve();
  /** a state-file write scheduled by a change from the store (recordState) */
  private stateTimer?: NodeJS.Timeout;

  constructor(private readonly lab: Lab, private readonly log: (line: string) => void = () => {}) {}

  /** The answer to a control request this handles ('apply', 'delete', 'conntrack'), or undefined for others. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'conntrack') return this.conntrack();
    if (req.cmd === 'apply') {
      const input = req.input as ApplyInput;
      if (!input || !Array.isArray(input.services) || !Array.isArray(input.origins)) return Promise.reject(new Error('apply: no services in the request'));
      return this.serialized(() => this.change(() => planApply(this.lab.plan, input), (services) => this.ingressChange(services, input.source, input.ingressObjects)));
    }
    if (req.cmd === 'delete') {
      const refs = req.services as { namespace: string; name: string }[];
      if (!Array.isArray(refs) || refs.some((r) => typeof r?.name !== 'string' || typeof r.namespace !== 'string' || !isNamespace(r.namespace))) {
        return Promise.reject(new Error('delete: expected services [{ namespace, name }]'));
      }
      return this.serialized(() => this.change(() => planDelete(this.lab.plan, refs), (services) => this.ingressChange(services, 'delete')));
    }
    if (req.cmd === 'delete-ingress') {
      const refs = req.ingresses as { namespace: string; name: string }[];
      if (!Array.isArray(refs) || refs.some((r) => typeof r?.name !== 'string' || typeof r.namespace !== 'string' || !isNamespace(r.namespace))) {
        return Promise.reject(new Error('delete-ingress: expected ingresses [{ namespace, name }]'));
      }
      const unchanged = (): ServiceChange => ({ services: this.lab.plan.services, results: [], touched: [] });
      return this.serialized(() => this.change(unchanged, (services) => this.ingressChange(services, 'delete', undefined, refs)));
    }
    return undefined;
  }

  /**
   * The shared store's Services (store-sync.ts), as `apply` and `delete`
   * would do them, in turn with every other request; the state file follows
   * later (recordState).
   */
  applyFromStore(input: ApplyInput): Promise<ServiceChangeReply> {
    return this.serialized(() => this.change(() => planApply(this.lab.plan, input), (services) => this.ingressChange(services, input.source), { deferState: true }));
  }

  deleteFromStore(refs: { namespace: string; name: string }[]): Promise<ServiceChangeReply> {
    return this.serialized(() => this.change(() => planDelete(this.lab.plan, refs), (services) => this.ingressChange(services, 'delete'), { deferState: true }));
  }

  /** The lab is going down (its state file with it): a write still scheduled must not bring the file back. */
  close(): void {
    clearTimeout(this.stateTimer);
    this.stateTimer = undefined;
  }

  /**
   * Pods came or went (a container runtime's ADD or DEL: cni-control.ts, which
   * changed plan.nodes): Services with a selector get their endpoints chosen
   * again and programmed, in turn with applies.
   */
  podsChanged(): Promise<ServiceChangeReply> {
    return this.serialized(() => this.change(() => reselectEndpoints(this.lab.plan.services, this.lab.plan.nodes)));
  }

  async conntrack(): Promise<ConntrackEntryJson[]> {
    const nodes = await this.lab.conntrack();
    return nodes.flatMap((n) => n.entries.map((e) => ({
      node: n.name,
      proto: PROTO_NAME[e.proto] ?? String(e.proto),
      state: e.state,
      timeoutSeconds: Math.max(0, Math.floor((e.timeoutMs - e.ageMs) / 1000)),
      orig: e.orig,
      reply: e.reply,
      assured: e.assured,
      seenReply: e.seenReply,
    })));
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * The Ingress controller's part of a request (src/lab/ingress.ts), rendered
   * against the Services after it: a backend whose Service the request
   * deletes, or an Ingress naming a missing one, refuses the whole request.
   */
  private ingressChange(services: ServicePlan[], source: string, add?: IngressObjects, remove?: { namespace: string; name: string }[]): IngressChange | undefined {
    const c = this.lab.ingress;
    if (!c) {
      if ((add && ingressObjectCount({ ingressObjects: add }) > 0) || remove?.length) {
        throw new Error(`${source}: this lab runs no Ingress controller here, so it takes no Ingress, IngressClass or Secret (set cluster.ingress: nginx in the topology)`);
      }
      return undefined;
    }
    return c.prepare(services, source, add, remove);
  }

  private async change(compute: () => ServiceChange, ingressCompute: (services: ServicePlan[]) => IngressChange | undefined = () => undefined,
    opts: { deferState?: boolean } = {}): Promise<ServiceChangeReply> {
    const t0 = performance.now();
    const change = compute(); // throws (nothing changed) on any problem
    const ingress = ingressCompute(change.services); // the same: nothing has changed yet
    const t1 = performance.now();
    const frontends = await this.program(change);
    const t2 = performance.now();
    const plan = this.lab.plan;
    plan.services = change.services;
    this.recordState(opts.deferState ?? false);
    for (const fn of this.lab.onServicesChanged) {
      try { fn(plan); } catch (e) { this.log(`podwire: onServicesChanged hook failed: ${(e as Error).message}`); }
    }
    // nginx last: its new upstreams exist in the data plane by now
    if (ingress) await this.lab.ingress!.commit(ingress);
    return { results: [...change.results, ...(ingress?.results ?? [])], planMs: t1 - t0, programMs: t2 - t1, frontends };
  }

  /** The state file records the lab's Services: now, or (deferred) once a burst of changes is over. */
  private recordState(deferred: boolean): void {
    if (!deferred) {
      clearTimeout(this.stateTimer);
      this.stateTimer = undefined;
      this.writeStateNow();
      return;
    }
    this.stateTimer ??= setTimeout(() => {
      this.stateTimer = undefined;
      try {
        this.writeStateNow();
      } catch (e) {
        this.log(`podwire: could not write the state file: ${(e as Error).message}`);
      }
    }, STATE_WRITE_DELAY_MS).unref();
  }

  private writeStateNow(): void {
    writeState({ ...this.lab.state, services: this.lab.plan.services });
  }

  /** Every local podwire node gets the touched Services' frontends; on a refusal the nodes done are restored. */
  private async program(change: ServiceChange): Promise<ServiceChangeReply['frontends']> {
    const counts = { added: 0, updated: 0, removed: 0, unchanged: 0 };
    if (change.touched.length === 0) return counts;
    const plan = this.lab.plan;
    const nodes = localNodes(plan).filter((n) => n.dataplane === 'podwire');
    const touched = new Set(change.touched);
    const next: LabPlan = { ...plan, services: change.services };
    const done: { node: string; old: EngineServiceConfig[]; only?: string[] }[] = [];
    try {
      for (const n of nodes) {
        const part = serviceFrontends({ ...next, services: change.services.filter((s) => touched.has(serviceKey(s))) }, n);
        // a frontend not tied to one Service: send the node's whole set instead
        const whole = part.some((f) => f.service === undefined || !touched.has(f.service));
        const only = whole ? undefined : change.touched;
        const old = whole
          ? serviceFrontends(plan, n)
          : serviceFrontends({ ...plan, services: plan.services.filter((s) => touched.has(serviceKey(s))) }, n);
        const r = await this.lab.syncServices(n.name, whole ? serviceFrontends(next, n) : part, only);
        done.push({ node: n.name, old, only });
        counts.added += r.added; counts.updated += r.updated; counts.removed += r.removed; counts.unchanged += r.unchanged;
      }
    } catch (e) {
      for (const d of done.reverse()) {
        await this.lab.syncServices(d.node, d.old, d.only).catch((r) => this.log(`podwire: could not restore node ${d.node}'s Services: ${(r as Error).message}`));
      }
      throw new Error(`the data plane refused the change, nothing applied: ${(e as Error).message}`);
    }
    return counts;
  }
}
