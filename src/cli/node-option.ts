import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { TablesJson } from '../lab/table-control.ts';
import { runningLab } from './lab-target.ts';

// --node NAME for the table commands: keep that node's rows, or say which nodes there are.
export function onlyNode<T>(rows: T[], node: string | undefined, nodeOf: (row: T) => string, nodes: string[]): T[] {
  if (node === undefined) return rows;
  if (!nodes.includes(node)) throw new Error(`no podwire node "${node}" in this lab (podwire nodes: ${nodes.join(', ') || 'none'})`);
  return rows.filter((r) => nodeOf(r) === node);
}

/**
 * A table command (`podwire fdb`, `podwire services`): per-node rows read
 * from the lab's 'tables' answer, `--json` prints them, otherwise each node
 * gets a "# node N: K <what>" header and `print`'s lines.
 */
export function perNodeTableCommand<T extends { node: string }>(name: string, description: string, what: string,
  rowsOf: (t: TablesJson) => T[], print: (rows: T[]) => void): Command {
  return new Command(name)
    .description(description)
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; node?: string; json?: boolean }) => {
      const t = (await requestControl(runningLab(opts.name).socket, 'tables', 10_000)) as TablesJson;
      const nodes = t.routes.map((r) => r.node);
      const rows = onlyNode(rowsOf(t), opts.node, (e) => e.node, nodes);
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      (opts.node !== undefined ? [opts.node] : nodes).forEach((node, i) => {
        const mine = rows.filter((e) => e.node === node);
        if (i > 0) console.log('');
        console.log(`# node ${node}: ${mine.length} ${what}`);
        print(mine);
      });
    });
}
