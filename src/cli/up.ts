// podwire up [topology.yaml]: bring a lab up and forward until Ctrl-C/SIGTERM
// or until whoever started it is gone; -d: in the background until `podwire down`.
// --store: a multi-host lab whose config, leases and Services live in etcd.
import { Command, InvalidArgumentError } from 'commander';
import { isValidName, type LabPlan } from '../model/topology-types.ts';
import type { DaemonOptions } from '../lab/daemon.ts';
import type { MetricsAddress } from '../lab/metrics.ts';
import { withStoreOptions, storeOptions, parseTtl, DEFAULT_STORE_TTL_SECONDS, type StoreFlags } from './store-options.ts';
import { requireRoot } from './root.ts';
import { table } from '../util/table.ts';

interface UpFlags extends StoreFlags {
  name?: string; offloads: boolean; batch?: number; node?: string; metrics?: string; ui?: string; detach?: boolean; storeTtl: number;
}

export function upCommand(): Command {
  return withStoreOptions(new Command('up'))
    .description('create the lab (default: 3 pods on one node) and forward its traffic until Ctrl-C')
    .argument('[topology]', 'topology YAML file (omit for the built-in default lab)')
    .option('--name <lab>', 'lab name (overrides cluster.name)')
    .option('--no-offloads', 'MTU-sized frames with full checksums on the TAPs (no TSO/GSO super-frames)')
    .option('--batch <n>', 'frames per batch (default 16 with offloads, 256 without)', parseBatch)
    .option('--node <name>', "run only this node; the others run on other hosts, reached at their nodes[].address over this host's network (VXLAN over UDP or IP-in-IP). The lab is named <lab>-<node> here")
    .option('--metrics <[addr:]port>', 'serve Prometheus metrics at http://ADDR:PORT/metrics (loopback only; a bare port listens on 127.0.0.1)')
    .option('--ui <[addr:]port>', 'serve the live web page (as `podwire ui`) at http://ADDR:PORT/ (loopback only; a bare port listens on 127.0.0.1)')
    .option('-d, --detach', 'run the lab in the background (its own session; output in <state dir>/<lab>.log) and return once it is ready; stop it with podwire down')
    .option('--store-ttl <seconds>', `with --store: this node's lease TTL; the other hosts drop a dead host's routes and endpoints this long after it stops renewing (default ${DEFAULT_STORE_TTL_SECONDS})`, parseTtl, DEFAULT_STORE_TTL_SECONDS)
    .action(async (file: string | undefined, opts: UpFlags) => {
      // the model and the lab are loaded here, not at start-up, so `podwire --help` stays quick
      const { loadTopologyFile, planTopology, selectHostNode, DEFAULT_TOPOLOGY } = await import('../model/topology.ts');
      // parsed here rather than by commander: lab/metrics.ts loads node:http
      const metrics = opts.metrics === undefined ? undefined : (await import('../lab/metrics.ts')).parseMetricsAddress(opts.metrics);
      // `up` has no --force: a page on another address is `podwire ui --listen ADDR --force` (ui-server.ts loads node:http: only when asked)
      if (opts.ui !== undefined) {
        const { parseUiListen } = await import('../lab/ui-server.ts');
        try { parseUiListen(opts.ui); } catch (e) { throw new Error((e as Error).message.replace(/^--listen: /, '--ui: ').replace(/; --force to listen there anyway$/, ' (podwire ui --listen ADDR:PORT --force can)')); }
      }
      if (opts.store !== undefined) return upWithStore(file, opts, metrics);
      let plan: LabPlan = file ? loadTopologyFile(file) : planTopology(DEFAULT_TOPOLOGY, 'built-in default lab');
      if (opts.name !== undefined) {
        if (!isValidName(opts.name)) throw new Error(`--name: "${opts.name}" is not a valid lab name (lowercase letters, digits, "-", at most 63)`);
        plan.name = opts.name;
      }
      if (opts.node !== undefined) plan = selectHostNode(plan, opts.node);
      if (!opts.offloads) plan.offloads = false;
      requireRoot('podwire up');
      if (await detached(plan, opts)) return;
      await startAndReport(plan, opts, metrics);
    });
}

/** `up -d`: run this same command line again, detached; it answers "ready" or dies with its error in the log. True when done here. */
async function detached(plan: LabPlan, opts: UpFlags): Promise<boolean> {
  const { isDetachedChild, startDetached } = await import('../lab/detach.ts');
  if (!opts.detach || isDetachedChild()) return false;
  const { labId } = await import('../model/topology.ts');
  const d = await startDetached(labId(plan), process.argv.slice(1));
  console.log(d.output);
  console.log(`podwire: lab "${labId(plan)}" runs in the background (pid ${d.pid}); log: ${d.log}; stop it with: podwire down --name ${labId(plan)}`);
  return true;
}

/**
 * `up --store`: the lab's config comes from the store (written there by the
 * first host's FILE); this host takes its node's lease and follows the store.
 * The store is reached before anything is created on the host.
 */
async function upWithStore(file: string | undefined, opts: UpFlags, metrics: MetricsAddress | undefined): Promise<void> {
  if (opts.node === undefined) throw new Error('--store: give the node this host runs (--node NAME)');
  const { readFileSync } = await import('node:fs');
  const { parse: parseYaml } = await import('yaml');
  const { planTopology, selectHostNode } = await import('../model/topology.ts');
  const { SharedStore } = await import('../store/etcd-store.ts');
  const { claimHostNode } = await import('../store/host-claim.ts');
  const { storeLabName, planFromConfig, planWithLeases } = await import('../store/store-lab.ts');
  let given: import('../store/schema.ts').ClusterConfig | undefined;
  let name = opts.name;
  if (file) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    const filePlan = planTopology(doc, file); // a bad file is refused before the store hears of it
    selectHostNode(filePlan, opts.node);
    name ??= filePlan.name;
    given = { clusterCIDR: filePlan.clusterCIDR, overlay: filePlan.overlay, vxlan: filePlan.vxlan, topology: doc, source: file };
  }
  requireRoot('podwire up');
  const store = await SharedStore.connect(storeOptions(opts));
  let plan: LabPlan;
  let config: import('../store/schema.ts').ClusterConfig;
  let lab: string;
  try {
    lab = await storeLabName(store, name);
    const got = await store.labConfig(lab, given);
    config = got.config;
    console.error(got.created ? `podwire: store: lab "${lab}" created at ${opts.store} from ${config.source}` : `podwire: store: joining lab "${lab}" at ${opts.store} (topology from ${config.source})`);
    plan = selectHostNode(planFromConfig(lab, config), opts.node); // refuses a node the topology does not have
    if (!opts.offloads) plan.offloads = false;
  } catch (e) {
    await store.close();
    throw e;
  }
  // the detached copy connects (and claims) again itself
  if (opts.detach) {
    const { isDetachedChild } = await import('../lab/detach.ts');
    if (!isDetachedChild()) { await store.close(); await detached(plan, opts); return; }
  }
  // this node's lease (and its pod CIDR, leased when the topology leaves it open) before anything exists on the host
  let claim: import('../store/etcd-store.ts').NodeClaim;
  try {
    const me = plan.nodes.find((n) => n.name === opts.node)!;
    claim = await claimHostNode(store, lab, config, me, opts.storeTtl, (line) => console.error(line));
  } catch (e) {
    await store.close();
    throw e;
  }
  try {
    // planned with every live lease's range (the same on every host); nodes without a lease are absent until they come
    const { leases } = await store.nodeLeases(lab);
    const leased = new Map(leases.map((l) => [l.node, l.podCIDR]));
    leased.set(opts.node, claim.lease.podCIDR);
    const offloads = plan.offloads;
    plan = selectHostNode(planWithLeases(lab, config, leased), opts.node);
    plan.offloads = offloads;
    plan.absentNodes = plan.nodes.filter((n) => n.name !== opts.node && !leases.some((l) => l.node === n.name)).map((n) => n.name);
  } catch (e) {
    await claim.release().catch(() => {});
    await store.close();
    throw e;
  }
  await startAndReport(plan, opts, metrics, { store, claim, config });
}

async function startAndReport(plan: LabPlan, opts: UpFlags, metrics: MetricsAddress | undefined, shared?: NonNullable<DaemonOptions['store']>): Promise<void> {
  const store = shared?.store;
  const { labId, localNodes } = await import('../model/topology.ts');
  const { podLabel } = await import('../model/pod-refs.ts');
  const { isDetachedChild, announceReady } = await import('../lab/detach.ts');
  const { runDaemon } = await import('../lab/daemon.ts');
  const { clusterDnsLine } = await import('../lab/cluster-dns.ts');
  const { ingressLine } = await import('../lab/ingress.ts');
  const leasedNote = shared && (await import('../store/store-lab.ts')).leasesItsRange(shared.config, plan.hostNode!) ? ', leased from the cluster CIDR' : '';
  const t0 = performance.now();
  // the lab's daemon (control socket, metrics, signals, teardown) lives in src/lab/daemon.ts
  const lab = await runDaemon(plan, {
    batch: opts.batch, metrics, ui: opts.ui, log: (line) => console.error(line), say: (line) => console.log(line),
    watchParent: !isDetachedChild(),
    ...(shared ? { store: shared } : {}),
  });

  const ms = Math.round(performance.now() - t0);
  const here = localNodes(plan);
  const pods = here.flatMap((n) => n.pods);
  console.log(`podwire: lab "${labId(plan)}" cluster ${plan.clusterCIDR}, overlay ${plan.overlay}, pod MTU ${plan.podMtu}, offloads ${plan.offloads ? 'on' : 'off'}`);
  if (plan.hostNode) {
    const me = here[0];
    const others = plan.nodes.filter((n) => n !== me);
    const via = plan.overlay === 'vxlan' ? `VXLAN over UDP ${me.underlayIp}:${plan.vxlan.port}` : `IP-in-IP (raw IP protocol 4) from ${me.underlayIp}`;
    console.log(`podwire: node ${me.name} here; ${others.length ? `${others.map((n) => `${n.name} at ${n.underlayIp}`).join(', ')} over ${via}` : 'no other nodes'}`);
    const path = lab.underlayPaths[me.name];
    if (path) console.log(`podwire: ${path.text}`);
  }
  console.log(clusterDnsLine(plan, lab.dns));
  const ing = ingressLine(plan, lab.ingress);
  if (ing) console.log(ing);
  if (metrics) console.log(`podwire: Prometheus metrics at http://${metrics.host.includes(':') ? `[${metrics.host}]` : metrics.host}:${metrics.port}/metrics`);
  // POD as users name it (NAMESPACE/NAME outside default); NETNS: the network namespace (ip netns exec NETNS ...)
  console.log(table(['NODE', 'POD', 'NETNS', 'IP', 'MAC'], pods.map((p) => [p.node, podLabel(p), p.namespace, p.ip, p.mac])));
  if (store) console.log(`podwire: store ${store.address.url}: node ${plan.hostNode}'s lease held (TTL ${opts.storeTtl} s, pod CIDR ${here[0].podCIDR}${leasedNote}); nodes without a lease yet: ${plan.absentNodes?.join(', ') || 'none'}`);
  console.log(`ready: ${pods.length} pods on ${here.length} node(s) in ${ms} ms ${isDetachedChild() ? '(podwire down to stop)' : '(Ctrl-C to stop)'}`);
  announceReady();
}

/** Slots per node: 0 or NaN would leave the lab up but forwarding nothing (and spinning). */
function parseBatch(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 1024) throw new InvalidArgumentError('expected an integer from 1 to 1024.');
  return n;
}
