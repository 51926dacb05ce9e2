// podwire routes [--json]: each podwire node's routing table and neighbour
// table (IPv4 -> MAC) as its data plane holds them.
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { TablesJson } from '../lab/table-control.ts';
import { runningLab } from './lab-target.ts';
import { onlyNode } from './node-option.ts';
import { table } from '../util/table.ts';

export function routesCommand(): Command {
  return new Command('routes')
    .description("list each podwire node's routes (local, vxlan, ipip, host-gw) and neighbours")
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; node?: string; json?: boolean }) => {
      const t = (await requestControl(runningLab(opts.name).socket, 'tables', 10_000)) as TablesJson;
      const nodes = onlyNode(t.routes, opts.node, (r) => r.node, t.routes.map((r) => r.node));
      if (opts.json) {
        console.log(JSON.stringify(nodes, null, 2));
        return;
      }
      nodes.forEach((n, i) => {
        if (i > 0) console.log('');
        console.log(`# node ${n.node}: ${n.routes.length} routes`);
        console.log(table(['PREFIX', 'KIND', 'NEXT HOP', 'NODE', 'VTEP MAC'],
          n.routes.map((r) => [r.cidr, r.kind, r.nextHop ?? (r.kind === 'local' ? 'bridge' : 'underlay (connected)'), r.via ?? '-', r.vtepMac ?? '-'])));
        console.log(`\n# node ${n.node}: ${n.neighbors.length} neighbours`);
        console.log(table(['IP', 'MAC', 'WHO'], n.neighbors.map((nb) => [nb.ip, nb.mac, nb.owner ?? '-'])));
      });
    });
}
