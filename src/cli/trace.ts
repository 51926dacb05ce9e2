// podwire trace --from POD --to TARGET [--proto P] [--port N] [--json]:
// a synthetic packet through the running lab's real tables, every decision
// printed hop by hop, node by node (src/lab/trace-control.ts).
import { Command } from 'commander';
import { requestControl, openControlStream } from '../lab/control.ts';
import type { TraceReply } from '../lab/trace-control.ts';
// a type only: trace-kernel.ts itself loads the whole model, which `podwire --help` must not
import type { KernelHop } from '../lab/trace-kernel.ts';
import { runningLab } from './lab-target.ts';

export function traceCommand(): Command {
  return new Command('trace')
    .description('follow a synthetic packet from a pod through every table it meets (bridge, conntrack, Service, NAT, route, encapsulation), leaving no state behind')
    .option('--from <pod>', 'the pod that sends it: NAME (namespace default), NAMESPACE/NAME or NAME.NAMESPACE; or a host of the topology\'s external: list (then --to is an underlay address: a node\'s or a LoadBalancer address)')
    .option('--to <target>', 'a pod (NAME, NAMESPACE/NAME), a Service (name, name.namespace, or name.namespace.svc.cluster.local) or an IPv4 address')
    .option('--proto <proto>', 'tcp (a SYN), udp or icmp (an echo request)', 'tcp')
    .option('--port <n>', 'destination port (default: the Service\'s first port of that protocol)', (v) => parseInt(v, 10))
    .option('--live', 'instead: show the decisions real traffic of --pod meets, as it passes (until Ctrl-C)')
    .option('--pod <pod>', 'with --live: the pod whose traffic to show (its port, or its address anywhere in the cluster): NAME, NAMESPACE/NAME or NAME.NAMESPACE')
    .option('--drops', 'with --live: only frames that were dropped')
    .option('--rate <n>', 'with --live: at most this many frames a second (the rest are counted)', (v) => parseInt(v, 10), 20)
    .option('--json', 'machine-readable output')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .action(async (opts: { from?: string; to?: string; proto: string; port?: number; json?: boolean; name?: string; live?: boolean; pod?: string; drops?: boolean; rate: number }) => {
      if (opts.live) return liveTrace(opts);
      if (!opts.from || !opts.to) throw new Error('trace needs --from POD and --to TARGET (or --live --pod POD)');
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
  const from = r.from.external !== undefined ? `external host ${r.from.external} (${r.from.ip}, on the underlay)` : `${r.from.pod} (${r.from.ip}, node ${r.from.node})`;
  const lines = [`trace ${r.proto} from ${from} to ${to}${r.to.port !== undefined ? ` port ${r.to.port}` : ''}`];
  if (r.from.external !== undefined) lines.push(`answered by node ${r.from.node} (${r.from.because}): the packet enters its underlay port`);
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
  if (r.kernel) lines.push(...kernelHopText(r.kernel));
  lines.push('(dry run: no conntrack entry, learned MAC or counter was left behind; nothing was written to any pod)');
  return lines.join('\n');
}

/** Stream the lab's live decisions for one pod until Ctrl-C (or the lab going away). */
async function liveTrace(opts: { pod?: string; drops?: boolean; rate: number; json?: boolean; name?: string }): Promise<void> {
  if (!opts.pod) throw new Error('trace --live needs --pod POD');
  const state = runningLab(opts.name);
  const sock = await openControlStream(state.socket, 'traceLive', { pod: opts.pod, drops: opts.drops ?? false, rate: opts.rate });
  const stop = () => sock.destroy(); // the lab switches tracing off when its last listener goes
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, stop);
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (opts.json) { console.log(line); continue; }
      const m = JSON.parse(line) as { tracing?: string; node?: string; ip?: string; drops?: boolean; rate?: number;
        steps?: { text: string }[]; suppressed?: number; lost?: number };
      if (m.tracing) console.error(`podwire: tracing ${m.tracing} (${m.ip}, node ${m.node})${m.drops ? ', drops only' : ''}, at most ${m.rate} frames/s; Ctrl-C to stop`);
      else if (m.steps) console.log([`${new Date().toISOString().slice(11, 23)} node ${m.node}:`, ...m.steps.map((s) => `  ${s.text}`)].join('\n'));
      else if (m.suppressed) console.log(`  (${m.suppressed} more frames in the last second, not shown: --rate)`);
      else if (m.lost) console.log(`  (node ${m.node}: ${m.lost} trace records did not fit the buffer this round)`);
    }
  });
  await new Promise<void>((resolve) => sock.on('close', () => resolve()));
}

/** The kernel hop as trace prints it. */
export function kernelHopText(k: KernelHop): string[] {
  if (k.judgedBy === 'none') return [`=> then kernel node ${k.node} (pod ${k.pod}): the Linux kernel forwards it; podwire cannot see inside, and this node enforces no NetworkPolicy`];
  const verdict = !k.ingress.isolatedBy.length ? 'allowed (no policy isolates the pod for ingress)'
    : k.ingress.allowed ? `allowed by ${k.ingress.rule}` : `denied (isolated by ${k.ingress.isolatedBy.join(', ')}; no rule admits it)`;
  return [
    `=> then kernel node ${k.node} (pod ${k.pod}): the verdict is the kernel's (nftables, table inet pw_netpol); podwire cannot see inside the kernel`,
    `   its ingress rules for ${k.pod}, rendered from the same compiled policies, say: ${verdict}`
      + (k.deniedSoFar !== undefined ? `; its deny rule has dropped ${k.deniedSoFar} packets since the rules were loaded` : ''),
  ];
}
