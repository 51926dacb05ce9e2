// podwire policies [--json]: per node, per pod, the NetworkPolicies that
// isolate it and what they allow (peer, protocol, ports, the rule), as the
// lab compiled them.
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { PoliciesJson } from '../lab/policy-control.ts';
import { runningLab } from './lab-target.ts';
import { table } from '../util/table.ts';

export function policiesCommand(): Command {
  return new Command('policies')
    .description('list, per node and pod, the NetworkPolicies that isolate it and what they allow')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; node?: string; json?: boolean }) => {
      const answer = (await requestControl(runningLab(opts.name).socket, 'policies', 10_000)) as PoliciesJson;
      const pods = answer.pods.filter((p) => opts.node === undefined || p.node === opts.node);
      if (opts.json) { console.log(JSON.stringify({ ...answer, pods }, null, 2)); return; }
      console.log(`# ${answer.policies.length} NetworkPolicies${answer.policies.length ? `: ${answer.policies.join(', ')}` : ''}`);
      for (const p of pods) {
        console.log('');
        const by = !p.enforced ? 'NOT enforced (this node does not judge NetworkPolicy)'
          : p.enforcedBy === 'nftables' ? `enforced by the kernel's nftables (table inet pw_netpol)${p.denied ? `, denied so far: ${Object.entries(p.denied).map(([d, n]) => `${d} ${n}`).join(', ')} packets` : ''}`
            : 'enforced by podwire';
        console.log(`# node ${p.node}: pod ${p.pod} (${p.ip}), ${by}`);
        const rows = (['ingress', 'egress'] as const).flatMap((d) => {
          const x = p[d];
          if (!x) return [[d, '-', '(not isolated: all allowed)', '', '']];
          if (!x.allow.length) return [[d, x.isolatedBy.join(','), '(nothing allowed)', '', '']];
          return x.allow.map((a) => [d, x.isolatedBy.join(','), a.peer, `${a.protocol} ${a.ports}`, a.rule]);
        });
        console.log(table(['DIRECTION', 'ISOLATED BY', 'PEER', 'PORTS', 'RULE'], rows));
      }
    });
}
