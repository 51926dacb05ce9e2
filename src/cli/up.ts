// podwire up [topology.yaml]: bring a lab up and forward until Ctrl-C/SIGTERM.
import { Command, InvalidArgumentError } from 'commander';
import { loadTopologyFile, planTopology, DEFAULT_TOPOLOGY, allPods, isValidName, type LabPlan } from '../model/topology.ts';
import { Lab } from '../lab/lab.ts';
import { labStatus } from '../lab/status.ts';
import { serveControl } from '../lab/control.ts';
import { requireRoot } from './root.ts';
import { table } from './table.ts';

export function upCommand(): Command {
  return new Command('up')
    .description('create the lab (default: 3 pods on one node) and forward its traffic until Ctrl-C')
    .argument('[topology]', 'topology YAML file (omit for the built-in default lab)')
    .option('--name <lab>', 'lab name (overrides cluster.name)')
    .option('--no-offloads', 'MTU-sized frames with full checksums on the TAPs (no TSO/GSO super-frames)')
    .option('--batch <n>', 'frames per batch (default 16 with offloads, 256 without)', parseBatch)
    .action(async (file: string | undefined, opts: { name?: string; offloads: boolean; batch?: number }) => {
      const plan: LabPlan = file ? loadTopologyFile(file) : planTopology(DEFAULT_TOPOLOGY, 'built-in default lab');
      if (opts.name !== undefined) {
        if (!isValidName(opts.name)) throw new Error(`--name: "${opts.name}" is not a valid lab name (lowercase letters, digits, "-", at most 63)`);
        plan.name = opts.name;
      }
      if (!opts.offloads) plan.offloads = false;
      requireRoot('podwire up');
      const t0 = performance.now();
      const lab = await Lab.up(plan, { batch: opts.batch });
      let stopping = false;
      const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        server.close();
        await lab.down();
        console.log(`podwire: lab "${plan.name}" removed`);
        process.exit(code);
      };
      const server = await serveControl(lab.state.socket, async (req) => {
        if (req.cmd === 'status') return labStatus(plan, process.pid, lab.state.startedAt, await lab.stats());
        throw new Error(`unknown command "${req.cmd}"`);
      }).catch(async (e) => { await lab.down(); throw e; });
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(0));
      process.on('uncaughtException', (e) => { console.error(`podwire: ${e.stack ?? e}`); void stop(1); });
      lab.onPortGone = (names) => console.error(`podwire: TAP gone (namespace deleted?) for pod(s) ${names.join(', ')}`);

      const ms = Math.round(performance.now() - t0);
      console.log(`podwire: lab "${plan.name}" cluster ${plan.clusterCIDR}, overlay ${plan.overlay}, pod MTU ${plan.podMtu}, offloads ${plan.offloads ? 'on' : 'off'}`);
      console.log(table(['NODE', 'POD', 'NAMESPACE', 'IP', 'MAC'], allPods(plan).map((p) => [p.node, p.name, p.namespace, p.ip, p.mac])));
      console.log(`ready: ${allPods(plan).length} pods on ${plan.nodes.length} node(s) in ${ms} ms (Ctrl-C to stop)`);
    });
}

/** Slots per node: 0 or NaN would leave the lab up but forwarding nothing (and spinning). */
function parseBatch(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 1024) throw new InvalidArgumentError('expected an integer from 1 to 1024.');
  return n;
}
