// podwire services [--json]: each podwire node's Service frontends and
// their backends as its data plane holds them (the Service names come from
// what was programmed).
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { ServiceFrontendJson, TablesJson } from '../lab/table-control.ts';
import { runningLab } from './lab-target.ts';
import { onlyNode } from './node-option.ts';
import { table } from './table.ts';

export function servicesCommand(): Command {
  return new Command('services')
    .description("list each podwire node's Service frontends and backends as its data plane holds them")
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; node?: string; json?: boolean }) => {
      const t = (await requestControl(runningLab(opts.name).socket, 'tables', 10_000)) as TablesJson;
      const nodes = t.routes.map((r) => r.node);
      const frontends = onlyNode(t.services, opts.node, (s) => s.node, nodes);
      if (opts.json) {
        console.log(JSON.stringify(frontends, null, 2));
        return;
      }
      (opts.node !== undefined ? [opts.node] : nodes).forEach((node, i) => {
        const mine = frontends.filter((s) => s.node === node);
        if (i > 0) console.log('');
        console.log(`# node ${node}: ${mine.length} frontends`);
        console.log(table(['FRONTEND', 'SERVICE', 'FLAGS', 'BACKENDS'], mine.map((s) => [
          `${s.vip}:${s.port}/${s.proto}`, s.service ?? '-', frontendFlags(s),
          s.backends.length ? s.backends.map((b) => `${b.ip}:${b.port}${b.pod ? ` (${b.pod})` : ''}`).join(', ') : `<none: ${s.dropWhenEmpty ? 'dropped' : 'rejected'}>`,
        ])));
      });
    });
}

/** "masquerade,maglev,affinity=10800s", or "-". */
export function frontendFlags(s: ServiceFrontendJson): string {
  const f = [
    ...(s.masquerade ? ['masquerade'] : []), ...(s.dropWhenEmpty ? ['drop-when-empty'] : []),
    ...(s.maglev ? ['maglev'] : []), ...(s.affinitySeconds ? [`affinity=${s.affinitySeconds}s`] : []),
  ];
  return f.join(',') || '-';
}
