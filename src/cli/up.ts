// podwire up [topology.yaml]: bring a lab up and forward until Ctrl-C/SIGTERM
// or until whoever started it is gone; -d: in the background until `podwire down`.
import { Command, InvalidArgumentError } from 'commander';
import { isValidName, type LabPlan } from '../model/topology-types.ts';
import { requireRoot } from './root.ts';
import { table } from '../util/table.ts';

export function upCommand(): Command {
  return new Command('up')
    .description('create the lab (default: 3 pods on one node) and forward its traffic until Ctrl-C')
    .argument('[topology]', 'topology YAML file (omit for the built-in default lab)')
    .option('--name <lab>', 'lab name (overrides cluster.name)')
    .option('--no-offloads', 'MTU-sized frames with full checksums on the TAPs (no TSO/GSO super-frames)')
    .option('--batch <n>', 'frames per batch (default 16 with offloads, 256 without)', parseBatch)
    .option('--node <name>', "run only this node; the others run on other hosts, reached at their nodes[].address over this host's network (VXLAN over UDP or IP-in-IP). The lab is named <lab>-<node> here")
    .option('--metrics <[addr:]port>', 'serve Prometheus metrics at http://ADDR:PORT/metrics (loopback only; a bare port listens on 127.0.0.1)')
    .option('--ui <[addr:]port>', 'serve the live web page (as `podwire ui`) at http://ADDR:PORT/ (loopback only; a bare port listens on 127.0.0.1)')
    .option('-d, --detach', 'run the lab in the background (its own session; output in <state dir>/<lab>.log) and return once it is ready; stop it with podwire down')
    .action(async (file: string | undefined, opts: { name?: string; offloads: boolean; batch?: number; node?: string; metrics?: string; ui?: string; detach?: boolean }) => {
      // the model and the lab are loaded here, not at start-up, so `podwire --help` stays quick
      const { loadTopologyFile, planTopology, selectHostNode, labId, localNodes, DEFAULT_TOPOLOGY } = await import('../model/topology.ts');
      const { podLabel } = await import('../model/pod-refs.ts');
      const { isDetachedChild, startDetached, announceReady } = await import('../lab/detach.ts');
      // parsed here rather than by commander: lab/metrics.ts loads node:http
      const metrics = opts.metrics === undefined ? undefined : (await import('../lab/metrics.ts')).parseMetricsAddress(opts.metrics);
      // `up` has no --force: a page on another address is `podwire ui --listen ADDR --force` (ui-server.ts loads node:http: only when asked)
      if (opts.ui !== undefined) {
        const { parseUiListen } = await import('../lab/ui-server.ts');
        try { parseUiListen(opts.ui); } catch (e) { throw new Error((e as Error).message.replace(/^--listen: /, '--ui: ').replace(/; --force to listen there anyway$/, ' (podwire ui --listen ADDR:PORT --force can)')); }
      }
      let plan: LabPlan = file ? loadTopologyFile(file) : planTopology(DEFAULT_TOPOLOGY, 'built-in default lab');
      if (opts.name !== undefined) {
        if (!isValidName(opts.name)) throw new Error(`--name: "${opts.name}" is not a valid lab name (lowercase letters, digits, "-", at most 63)`);
        plan.name = opts.name;
      }
      if (opts.node !== undefined) plan = selectHostNode(plan, opts.node);
      if (!opts.offloads) plan.offloads = false;
      requireRoot('podwire up');
      if (opts.detach && !isDetachedChild()) {
        // run this same command line again, detached; it answers "ready" or dies with its error in the log
        const d = await startDetached(labId(plan), process.argv.slice(1));
        console.log(d.output);
        console.log(`podwire: lab "${labId(plan)}" runs in the background (pid ${d.pid}); log: ${d.log}; stop it with: podwire down --name ${labId(plan)}`);
        return;
      }
      const { runDaemon } = await import('../lab/daemon.ts');
      const { clusterDnsLine } = await import('../lab/cluster-dns.ts');
      const { ingressLine } = await import('../lab/ingress.ts');
      const t0 = performance.now();
      // the lab's daemon (control socket, metrics, signals, teardown) lives in src/lab/daemon.ts
      const lab = await runDaemon(plan, {
        batch: opts.batch, metrics, ui: opts.ui, log: (line) => console.error(line), say: (line) => console.log(line),
        watchParent: !isDetachedChild(),
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
      }
      console.log(clusterDnsLine(plan, lab.dns));
      const ing = ingressLine(plan, lab.ingress);
      if (ing) console.log(ing);
      if (metrics) console.log(`podwire: Prometheus metrics at http://${metrics.host.includes(':') ? `[${metrics.host}]` : metrics.host}:${metrics.port}/metrics`);
      // POD as users name it (NAMESPACE/NAME outside default); NETNS: the network namespace (ip netns exec NETNS ...)
      console.log(table(['NODE', 'POD', 'NETNS', 'IP', 'MAC'], pods.map((p) => [p.node, podLabel(p), p.namespace, p.ip, p.mac])));
      console.log(`ready: ${pods.length} pods on ${here.length} node(s) in ${ms} ms ${isDetachedChild() ? '(podwire down to stop)' : '(Ctrl-C to stop)'}`);
      announceReady();
    });
}

/** Slots per node: 0 or NaN would leave the lab up but forwarding nothing (and spinning). */
function parseBatch(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 1024) throw new InvalidArgumentError('expected an integer from 1 to 1024.');
  return n;
}
