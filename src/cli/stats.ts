// podwire stats [--json] [--watch [SEC]]: per port and per drop reason
// counters of every podwire node, as the data plane counts them; --watch
// redraws them every SEC seconds with per-second rates.
import { Command, InvalidArgumentError } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { StatsJson, StatsRatesJson } from '../lab/table-control.ts';
import { runningLab } from './lab-target.ts';
import { onlyNode } from './node-option.ts';
import { table } from '../util/table.ts';

export function statsCommand(): Command {
  return new Command('stats')
    .description('per-port counters, drop reasons and events of each podwire node')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--node <node>', 'only this node')
    .option('--json', 'machine-readable output (with --watch: one JSON object per line per interval)')
    .option('--watch [seconds]', 'redraw every SECONDS (default 1) with per-second rates, until Ctrl-C', parseInterval)
    .action(async (opts: { name?: string; node?: string; json?: boolean; watch?: number | true }) => {
      const state = runningLab(opts.name);
      const snapshot = async (): Promise<StatsJson> => {
        const s = (await requestControl(state.socket, 'stats', 10_000)) as StatsJson;
        return { ...s, nodes: onlyNode(s.nodes, opts.node, (n) => n.name, s.nodes.map((n) => n.name)) };
      };
      if (opts.watch === undefined) {
        const s = await snapshot();
        console.log(opts.json ? JSON.stringify(s, null, 2) : formatStats(s));
        return;
      }
      await watch(snapshot, opts.watch === true ? 1 : opts.watch, opts.json ?? false);
    });
}

function parseInterval(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('expected seconds from 0.1 to 3600.');
  return n;
}

/** Poll until Ctrl-C (or SIGTERM): each interval, the snapshot and the rates since the previous one. */
async function watch(snapshot: () => Promise<StatsJson>, seconds: number, json: boolean): Promise<void> {
  let stopped = false;
  let wake = () => {};
  const stop = () => { stopped = true; wake(); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const tty = process.stdout.isTTY && !json;
  const { statsRates } = await import('../lab/table-control.ts'); // the lab's code, loaded only when watching
  let prev: StatsJson | undefined;
  try {
    while (!stopped) {
      const cur = await snapshot();
      const rates = prev && statsRates(prev, cur);
      if (json) console.log(JSON.stringify(rates ? { ...cur, rates } : cur));
      else {
        // clear and home the cursor: the table redraws in place
        if (tty) process.stdout.write('\x1b[2J\x1b[H');
        console.log(`every ${seconds}s, Ctrl-C to stop\n${formatStats(cur, rates)}\n`);
      }
      prev = cur;
      await new Promise<void>((r) => { const t = setTimeout(r, seconds * 1000); wake = () => { clearTimeout(t); r(); }; });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

const fmtRate = (v: number) => (v >= 100 || v === 0 ? String(Math.round(v)) : v.toFixed(1));

/** The snapshot as text: per node a port table, the non-zero drop reasons and events; with rates, a /s column beside each counter. */
export function formatStats(s: StatsJson, rates?: StatsRatesJson): string {
  const out: string[] = [`lab "${s.lab}" at ${s.time}`];
  if (s.nodes.length === 0) out.push('no podwire nodes (a lab of kernel nodes only)');
  for (const n of s.nodes) {
    const r = rates?.nodes.find((x) => x.name === n.name);
    out.push('', `node ${n.name}  fdb ${n.fdbEntries}/${n.fdbCapacity}  conntrack ${n.conntrackEntries}`);
    const cols = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes'] as const;
    const head = ['PORT', 'NAME', ...cols.flatMap((c) => {
      const h = c.replace('_', ' ').toUpperCase().replace('PACKETS', 'PKTS');
      return r ? [h, `${h.split(' ')[0]} ${h.endsWith('PKTS') ? 'PKT' : 'B'}/S`] : [h];
    }), 'RX DROPS', 'TX DROPS', 'RX ERR', 'TX ERR'];
    out.push(table(head, n.ports.map((p) => {
      const pr = r?.ports.find((x) => x.port === p.port);
      return [
        p.port, p.name + (p.gone ? ' (gone)' : ''),
        ...cols.flatMap((c) => (r ? [p[c], fmtRate(Number(pr?.[c] ?? 0))] : [p[c]])),
        p.rx_drops, p.tx_drops, p.rx_errors, p.tx_errors,
      ];
    })));
    const line = (title: string, counts: Record<string, number>, perSec?: Record<string, number>) => {
      const nz = Object.entries(counts).filter(([, v]) => v > 0);
      return `${title}: ${nz.length ? nz.map(([k, v]) => `${k}=${v}${perSec ? ` (${fmtRate(perSec[k] ?? 0)}/s)` : ''}`).join(' ') : 'none'}`;
    };
    out.push(line('drops', n.drops, r?.drops), line('events', n.events, r?.events));
  }
  return out.join('\n');
}
