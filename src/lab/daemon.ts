// What `podwire up` runs once its flags are parsed: the lab, its control
// socket (one handler per command), Prometheus metrics, and the teardown on
// a signal, the death of whoever started it (parent-watch.ts), an uncaught
// error or a dead forwarding worker. The CLI only
// parses flags and prints; everything that lives as long as the lab is here.
import { labId, type LabPlan } from '../model/topology.ts';
import { Lab, TEST_CRASH_WORKER } from './lab.ts';
import { labStatus } from './status.ts';
import { memoryStatus } from './memory-status.ts';
import { clusterDnsStatus } from './cluster-dns.ts';
import { serveControl, type ControlHandler } from './control.ts';
import { TraceControl } from './trace-control.ts';
import { ServiceControl } from './service-control.ts';
import { TableControl } from './table-control.ts';
import { PolicyControl } from './policy-control.ts';
import { serveMetrics, type MetricsAddress } from './metrics.ts';
import { CaptureControl } from './capture.ts';
import { UiControl } from './ui-control.ts';
import { NetemControl } from './netem-control.ts';
import { CniControl } from './cni-control.ts';
import { sessionAncestors, watchAncestors } from './parent-watch.ts';
import { StoreSync, type StoreStatus } from './store-sync.ts';
import { StorePolicies } from './store-policies.ts';
import type { SharedStore, NodeClaim } from '../store/etcd-store.ts';
import type { ClusterConfig } from '../store/schema.ts';

export interface DaemonOptions {
  batch?: number;
  metrics?: MetricsAddress;
  /** `up --ui [ADDR:]PORT`: serve the live web page from the start (`podwire ui` can start it later) */
  ui?: string;
  /** progress and warnings (stderr in the CLI) */
  log: (line: string) => void;
  /** the one line said when the lab is removed (stdout in the CLI) */
  say: (line: string) => void;
  /** end the lab when the process that started it dies (a foreground `up`; not `up -d`) */
  watchParent?: boolean;
  /** a multi-host lab sharing its state in etcd (`--store`): this node's lease is taken and the store followed (store-sync.ts) */
  store?: { store: SharedStore; claim: NodeClaim; config: ClusterConfig };
}

/** Bring the lab up and serve it until a signal; resolves once it is ready (the process then lives on its handlers). */
export async function runDaemon(plan: LabPlan, opts: DaemonOptions): Promise<Lab> {
  // recorded before the (slow) bring-up: an ancestor that dies meanwhile is still noticed
  const ancestors = opts.watchParent ? sessionAncestors() : [];
  // on a failure the node's lease is given back at once (the other hosts need not wait for its TTL) and the client closed
  const closeStore = async () => {
    await opts.store?.claim.release().catch(() => {});
    await opts.store?.store.close();
  };
  const lab = await Lab.up(plan, { batch: opts.batch, log: opts.log })
    .catch(async (e) => { await closeStore(); throw e; });
  let sync: StoreSync | undefined;
  let storePolicies: StorePolicies | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    server.close();
    metrics?.close();
    dispatch.ui.close();
    storePolicies?.stop();
    await sync?.stop();
    dispatch.services.close();
    await lab.down();
    opts.say(`podwire: lab "${labId(plan)}" removed`);
    process.exit(code);
  };
  const dispatch = controlHandlers(plan, lab, opts.log, () => sync && { ...sync.status(), policies: storePolicies?.count ?? 0 },
    () => sync?.announcePods().catch((e) => opts.log(`podwire: store: could not write this node's pods: ${(e as Error).message}`)) ?? Promise.resolve());
  // on a failure here the store client is closed too: its open channel would keep the process alive
  const server = await serveControl(lab.state.socket, dispatch)
    .catch(async (e) => { await closeStore(); await lab.down(); throw e; });
  const metrics = opts.metrics && await serveMetrics(opts.metrics, () => dispatch.tables.stats())
    .catch(async (e) => { server.close(); await closeStore(); await lab.down(); throw e; });
  if (opts.ui !== undefined) {
    const page = await dispatch.ui.serve({ listen: opts.ui })
      .catch(async (e) => { server.close(); metrics?.close(); await closeStore(); await lab.down(); throw e; });
    opts.log(`podwire: live web page at ${page.url}`);
  }
  if (opts.store) {
    const podsMoved = async () => {
      await dispatch.services.podsChanged();
      await dispatch.policies.podsChanged();
    };
    sync = await StoreSync.start(opts.store.store, lab, dispatch.services, { claim: opts.store.claim, config: opts.store.config, log: opts.log, podsMoved })
      .catch(async (e) => { server.close(); metrics?.close(); dispatch.ui.close(); await closeStore(); await lab.down(); throw e; });
    // the store's NetworkPolicies, through the same PolicyControl as `podwire apply` here (store-policies.ts)
    storePolicies = await StorePolicies.start(opts.store.store, plan.name, dispatch.policies, opts.log)
      .catch(async (e) => { server.close(); metrics?.close(); dispatch.ui.close(); await sync!.stop(); await lab.down(); throw e; });
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(0));
  watchAncestors(ancestors, (a) => {
    opts.log(`podwire: the process that started the lab is gone (${a.comm}, pid ${a.pid}): removing the lab`);
    void stop(0);
  });
  process.on('uncaughtException', (e) => { opts.log(`podwire: ${e.stack ?? e}`); void stop(1); });
  lab.onFatal = (message) => { opts.log(message); void stop(1); };
  lab.onPortGone = (names) => opts.log(`podwire: TAP gone (namespace deleted?) for pod(s) ${names.join(', ')}`);
  return lab;
}

/** The control socket's answer to one request: status here, the rest by the control that knows the command. */
function controlHandlers(plan: LabPlan, lab: Lab, log: (line: string) => void, store: () => (StoreStatus & { policies: number }) | undefined,
  storePods: () => Promise<void>) {
  const services = new ServiceControl(lab, log); // apply, delete, conntrack
  const traces = new TraceControl(lab); // trace
  const captures = new CaptureControl(lab); // capture: streams pcapng
  const tables = new TableControl(lab); // stats, fdb / routes / services tables
  const policies = new PolicyControl(plan, lab); // policies, applyPolicies, deletePolicies
  const status = async () => {
    // while the worker restarts there are no counters to read: status still answers, saying so (dataplane)
    const stats = await lab.stats().catch(() => []);
    const shared = store();
    return {
      ...labStatus(plan, process.pid, lab.state.startedAt, stats, clusterDnsStatus(plan, lab.dns), lab.dataplaneStatus, lab.underlayPaths), ...(shared ? { store: shared } : {}),
      memory: memoryStatus(plan, stats), lifecycle: { upPhases: lab.upPhases },
    };
  };
  // ui: the live web page; its shape (the plan's nodes, pods, Services) tells it when to send the lab again
  const shape = () => [lab.plan.nodes.map((n) => [n.name, n.pods.map((p) => [p.name, p.ip])]), lab.plan.services, lab.plan.external];
  const ui = new UiControl({ lab: status, stats: () => tables.stats(), trace: (req) => traces.trace(req), shape });
  const netem = new NetemControl(plan, lab); // netemSet, netemClear
  // a runtime's pod changes Service endpoints, NetworkPolicy peers and, with a store, the pods this node announces there
  const cni = new CniControl(lab, { services: () => services.podsChanged(), policies: async () => { await policies.podsChanged(); await storePods(); } }, log); // cni-add, cni-del, cni-check, cni-gc: a container runtime's pods
  const handle: ControlHandler = async (req) => {
    if (req.cmd === 'status') return status();
    if (req.cmd === TEST_CRASH_WORKER && process.env.PODWIRE_TEST_HOOKS === '1') {
      lab.crashWorkerForTest();
      return {};
    }
    const answer = services.handle(req) ?? tables.handle(req) ?? traces.handle(req) ?? captures.handle(req) ?? policies.handle(req) ?? netem.handle(req) ?? cni.handle(req) ?? ui.handle(req);
    if (answer) return answer;
    throw new Error(`unknown command "${req.cmd}"`);
  };
  return Object.assign(handle, { tables, ui, services, policies });
}
