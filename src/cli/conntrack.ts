// podwire conntrack [--json]: each podwire node's connection table as its
// data plane holds it, printed as `conntrack -L` prints the kernel's.
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { ConntrackEntryJson } from '../lab/service-control.ts';
import { runningLab } from './lab-target.ts';

export function conntrackCommand(): Command {
  return new Command('conntrack')
    .description("list each podwire node's connection tracking table (as conntrack -L)")
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; node?: string; json?: boolean }) => {
      const state = runningLab(opts.name);
      let entries = (await requestControl(state.socket, 'conntrack', 10_000)) as ConntrackEntryJson[];
      if (opts.node !== undefined) entries = entries.filter((e) => e.node === opts.node);
      if (opts.json) {
        console.log(JSON.stringify(entries, null, 2));
        return;
      }
      const nodes = [...new Set(entries.map((e) => e.node))];
      if (opts.node !== undefined && !nodes.includes(opts.node)) nodes.push(opts.node);
      if (nodes.length === 0) console.log('conntrack v1.4 (podwire): 0 flow entries have been shown.');
      nodes.forEach((node, i) => {
        const mine = entries.filter((e) => e.node === node);
        if (i > 0) console.log('');
        console.log(`# node ${node}`);
        for (const e of mine) console.log(conntrackLine(e));
        console.log(`conntrack v1.4 (podwire): ${mine.length} flow entries have been shown.`);
      });
    });
}

const PROTO_NUM: Record<string, number> = { icmp: 1, tcp: 6, udp: 17 };

/** One entry as conntrack -L prints it: proto, number, seconds left, TCP state, both tuples, flags. */
export function conntrackLine(e: ConntrackEntryJson): string {
  const tuple = (t: ConntrackEntryJson['orig'], reply: boolean) => e.proto === 'icmp'
    ? `src=${t.src} dst=${t.dst} type=${reply ? 0 : 8} code=0 id=${t.sport}`
    : `src=${t.src} dst=${t.dst} sport=${t.sport} dport=${t.dport}`;
  return [
    e.proto.padEnd(8), String(PROTO_NUM[e.proto] ?? e.proto), String(e.timeoutSeconds),
    ...(e.proto === 'tcp' ? [e.state.toUpperCase()] : []),
    tuple(e.orig, false), ...(e.seenReply ? [] : ['[UNREPLIED]']),
    tuple(e.reply, true), ...(e.assured ? ['[ASSURED]'] : []),
    'mark=0', 'use=1',
  ].join(' ');
}
