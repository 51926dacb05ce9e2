// podwire services [--json]: each podwire node's Service frontends and
// their backends as its data plane holds them (the Service names come from
// what was programmed).
import type { Command } from 'commander';
import type { ServiceFrontendJson } from '../lab/table-control.ts';
import { perNodeTableCommand } from './node-option.ts';
import { table } from '../util/table.ts';

export function servicesCommand(): Command {
  return perNodeTableCommand('services', "list each podwire node's Service frontends and backends as its data plane holds them", 'frontends',
    (t) => t.services, (mine) => {
      console.log(table(['FRONTEND', 'SERVICE', 'FLAGS', 'BACKENDS'], mine.map((s) => [
        `${s.vip}:${s.port}/${s.proto}`, s.service ?? '-', frontendFlags(s),
        s.backends.length ? s.backends.map((b) => `${b.ip}:${b.port}${b.pod ? ` (${b.pod})` : ''}`).join(', ') : `<none: ${s.dropWhenEmpty ? 'dropped' : 'rejected'}>`,
      ])));
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
