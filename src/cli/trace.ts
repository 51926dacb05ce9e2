// podwire trace --from POD --to TARGET [--proto P] [--port N] [--json]:
// a synthetic packet through the running lab's real tables, every decision
// printed hop by hop, node by node (src/lab/trace-control.ts).
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { TraceReply } from '../lab/trace-control.ts';
import { runningLab } from './lab-target.ts';

export function traceCommand(): Command {
  return new Command('trace')
    .description('follow a synthetic packet from a pod through every table it meets (bridge, conntrack, Service, NAT, route, encapsulation), leaving no state behind')
    .option('--from <pod>', 'the pod that sends it')
    .option('--to <target>', 'a pod, a Service (name, name.namespace, or name.namespace.svc.cluster.local) or an IPv4 address')
    .option('--proto <proto>', 'tcp (a SYN), udp or icmp (an echo request)', 'tcp')
    .option('--port <n>', 'destination port (default: the Service\'s first port of that protocol)', (v) => parseInt(v, 10))
    .option('--json', 'machine-readable output')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .action(async (opts: { from?: string; to?: string; proto: string; port?: number; json?: boolean; name?: string }) => {
      if (!opts.from || !opts.to) throw new Error('trace needs --from POD and --to TARGET');
      if (opts.port !== undefined && !(opts.port > 0 && opts.port < 65536)) throw new Error('--port: 1-65535');
      const state = runningLab(opts.name);
      const r = (await requestControl(state.socket, 'trace', 10_000, { from: opts.from, to: opts.to, proto: opts.proto, port: opts.port })) as TraceReply;
      if (opts.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      console.log(formatTrace(r));
    });
}

/** The trace as a person reads it: a header, each node's decisions in order, then where the packet ended. */
export function formatTrace(r: TraceReply): string {
  const to = r.to.service ? `${r.to.asked} (Service ${r.to.service}, ${r.to.ip})` : r.to.pod ? `${r.to.asked} (pod, ${r.to.ip})` : r.to.ip;
  const lines = [`trace ${r.proto} from ${r.from.pod} (${r.from.ip}, node ${r.from.node}) to ${to}${r.to.port !== undefined ? ` port ${r.to.port}` : ''}`];
  for (const hop of r.hops) {
    lines.push('', `node ${hop.node}:`);
    for (const s of hop.steps) lines.push(`  ${s.text}`);
    if (hop.lost) lines.push(`  (${hop.lost} more records did not fit the trace buffer)`);
  }
  lines.push('');
  for (const o of r.outcomes) {
    if (o.dropped) lines.push(`=> dropped on ${o.node}: ${o.dropped}`);
    else if (o.generated) lines.push(`=> ${o.node} answered: sent out of ${o.port}`);
    else lines.push(`=> delivered: out of ${o.port} (node ${o.node})`);
  }
  if (r.outcomes.length === 0) lines.push('=> nothing was sent and nothing was counted as a drop');
  lines.push('(dry run: no conntrack entry, learned MAC or counter was left behind; nothing was written to any pod)');
  return lines.join('\n');
}
