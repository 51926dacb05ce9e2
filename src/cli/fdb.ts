// podwire fdb [--json]: each podwire node's bridge forwarding table as its
// data plane holds it, one line per MAC as `bridge fdb show` prints.
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { FdbEntryJson, TablesJson } from '../lab/table-control.ts';
import { runningLab } from './lab-target.ts';
import { onlyNode } from './node-option.ts';

export function fdbCommand(): Command {
  return new Command('fdb')
    .description("list each podwire node's MAC table (as bridge fdb show)")
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; node?: string; json?: boolean }) => {
      const t = (await requestControl(runningLab(opts.name).socket, 'tables', 10_000)) as TablesJson;
      const nodes = t.routes.map((r) => r.node);
      const entries = onlyNode(t.fdb, opts.node, (e) => e.node, nodes);
      if (opts.json) {
        console.log(JSON.stringify(entries, null, 2));
        return;
      }
      (opts.node !== undefined ? [opts.node] : nodes).forEach((node, i) => {
        const mine = entries.filter((e) => e.node === node);
        if (i > 0) console.log('');
        console.log(`# node ${node}: ${mine.length} entries`);
        for (const e of mine) console.log(fdbLine(e));
      });
    });
}

/** "0a:58:0a:f4:00:02 dev a1 port 0 permanent", or "... age 12s" for a learned MAC. */
export function fdbLine(e: FdbEntryJson): string {
  return `${e.mac} dev ${e.portName} port ${e.port} ${e.static ? 'permanent' : `age ${e.ageSeconds}s`}`;
}
