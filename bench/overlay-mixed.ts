// bench overlay --cases mixed: podwire on a real L2 underlay. One round
// brings up three VXLAN labs, one after the other (the order alternates
// between rounds), and measures TCP throughput (iperf3, offloads on):
//   - mixed: podwire nodes x1 and x2 and a kernel node k1 on the bridge
//     underlay (cluster.underlay: bridge): x1 -> x2 over the bridge,
//     x1 -> k1 (podwire to kernel) and k1 -> x1 (kernel to podwire);
//   - in-process: the same two podwire nodes without the kernel node (their
//     underlay carried in memory): x1 -> x2;
//   - kernel: two kernel nodes (flannel.1 over a veth underlay): x1 -> x2.
// Ratios, medians over the rounds: podwire <-> podwire over the bridge /
// in-process (target 0.8), podwire -> kernel and kernel -> podwire / kernel
// <-> kernel (target 0.6). /proc/loadavg is recorded beside every sample.
import { readFileSync } from 'node:fs';
import { planTopology, type LabPlan } from '../src/model/topology.ts';
import type { UnderlayPath } from '../src/lab/underlay-path.ts';
import { summarize, type Summary } from './stats.ts';
import { tcpThroughput, pingLatency, type Endpoints, type TcpResult } from './probes.ts';
import { casePlan, withLab, withSignals } from './overlay.ts';
import { fmt, type Panel } from './svg.ts';
import { table } from '../src/util/table.ts';

export const MIXED_CASES = ['podwire-podwire/bridge', 'podwire-podwire/in-process', 'podwire->kernel', 'kernel->podwire', 'kernel-kernel'] as const;
export type MixedCase = (typeof MIXED_CASES)[number];
type MixedLab = 'mixed' | 'in-process' | 'kernel';
const LAB_CASES: Record<MixedLab, MixedCase[]> = {
  mixed: ['podwire-podwire/bridge', 'podwire->kernel', 'kernel->podwire'],
  'in-process': ['podwire-podwire/in-process'],
  kernel: ['kernel-kernel'],
};
/** what each ratio compares, and the target issue 15 sets for it */
export const MIXED_RATIOS: { case: MixedCase; vs: MixedCase; target: number }[] = [
  { case: 'podwire-podwire/bridge', vs: 'podwire-podwire/in-process', target: 0.8 },
  { case: 'podwire->kernel', vs: 'kernel-kernel', target: 0.6 },
  { case: 'kernel->podwire', vs: 'kernel-kernel', target: 0.6 },
];

export interface MixedSample { round: number; case: MixedCase; gbps?: number; retransmits?: number; loadavg: string; error?: string }
export interface MixedReport {
  options: { seconds: number; repeat: number };
  samples: MixedSample[];
  summary: { case: MixedCase; tcpGbps?: Summary }[];
  ratios: { case: MixedCase; vs: MixedCase; ratio?: number; target: number }[];
  /** the podwire nodes' underlay paths in the mixed lab (`podwire status`), as the last round saw them */
  underlayPaths: Record<string, UnderlayPath>;
  /** what the podwire nodes counted in the mixed lab's last round: super-frames whole vs segmented */
  events: Record<string, Record<string, number>>;
}

const PORT = 5201;

function mixedPlan(labName: string): LabPlan {
  return planTopology({
    cluster: { name: labName, clusterCIDR: '10.249.0.0/16', overlay: 'vxlan', underlay: 'bridge', offloads: true, dns: false },
    nodes: [
      { name: 'x1', dataplane: 'podwire', pods: [`${labName}-a`] },
      { name: 'k1', dataplane: 'kernel', pods: [`${labName}-c`] },
      { name: 'x2', dataplane: 'podwire', pods: [`${labName}-b`] },
    ],
  }, 'bench overlay mixed lab');
}

const ends = (from: { namespace: string }, to: { namespace: string; ip: string }): Endpoints =>
  ({ clientNs: from.namespace, serverNs: to.namespace, serverIp: to.ip, target: to.ip });

function caseEndpoints(lab: MixedLab, plan: LabPlan): Record<string, Endpoints> {
  const pod = (node: string, i = 0) => plan.nodes.find((n) => n.name === node)!.pods[i];
  if (lab === 'mixed') {
    return {
      'podwire-podwire/bridge': ends(pod('x1'), pod('x2')),
      'podwire->kernel': ends(pod('x1'), pod('k1')),
      'kernel->podwire': ends(pod('k1'), pod('x1')),
    };
  }
  // casePlan's two-node labs: x1 holds a and a2, x2 holds b
  return { [LAB_CASES[lab][0]]: ends(pod('x1'), pod('x2')) };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

export interface MixedOptions { seconds?: number; repeat?: number; labName?: string; log?: (s: string) => void }

export function runMixed(opts: MixedOptions = {}): Promise<MixedReport> {
  return withSignals(() => measureMixed(opts));
}

async function measureMixed(opts: MixedOptions): Promise<MixedReport> {
  const seconds = opts.seconds ?? 5;
  const repeat = opts.repeat ?? 3;
  const labName = opts.labName ?? 'pwbm';
  const log = opts.log ?? console.log;
  const samples: MixedSample[] = [];
  let underlayPaths: Record<string, UnderlayPath> = {};
  let events: MixedReport['events'] = {};
  const labs: MixedLab[] = ['mixed', 'in-process', 'kernel'];
  for (let r = 1; r <= repeat; r++) {
    // alternate: a slow drift of the machine's load does not favour one side
    const order = r % 2 === 1 ? labs : [...labs].reverse();
    for (const lab of order) {
      const plan = lab === 'mixed' ? mixedPlan(labName) : casePlan('vxlan', lab === 'kernel' ? 'kernel' : 'podwire', true, labName, 'vxlan');
      const tag = `[mixed round ${r}/${repeat}] ${lab} lab`;
      log(`${tag}: up ...`);
      try {
        await withLab(plan, async (l) => {
          const e = caseEndpoints(lab, plan);
          for (const c of LAB_CASES[lab]) {
            // first packets learn MACs and neighbours: not part of the measurement
            await pingLatency(e[c].clientNs, e[c].serverIp, 3, 0.2).catch(() => undefined);
            const load = loadavg();
            try {
              const t: TcpResult = await tcpThroughput(e[c], PORT, seconds);
              samples.push({ round: r, case: c, gbps: t.gbps, retransmits: t.retransmits, loadavg: load });
              log(`${tag}: ${c}: ${t.gbps.toFixed(2)} Gbit/s, ${t.retransmits} retransmits (loadavg ${load})`);
            } catch (err) {
              const msg = (err as Error).message.split('\n')[0];
              samples.push({ round: r, case: c, loadavg: load, error: msg });
              log(`${tag}: ${c}: failed: ${msg}`);
            }
          }
          if (lab === 'mixed') {
            underlayPaths = { ...l.underlayPaths };
            const stats = await l.stats();
            events = Object.fromEntries(stats.map((s) => [s.name, Object.fromEntries(
              ['tunnel_gso_sent', 'tunnel_gso_received', 'gso_segmented', 'vxlan_encap', 'vxlan_decap'].map((k) => [k, s.counters.events[k] ?? 0]))]));
          }
        });
      } catch (err) {
        log(`${tag}: failed: ${(err as Error).message.split('\n')[0]}`);
        for (const c of LAB_CASES[lab]) samples.push({ round: r, case: c, loadavg: loadavg(), error: (err as Error).message.split('\n')[0] });
      }
    }
  }
  const summary = MIXED_CASES.map((c) => ({ case: c, tcpGbps: summarize(samples.filter((s) => s.case === c).map((s) => s.gbps)) }));
  const median = (c: MixedCase) => summary.find((s) => s.case === c)?.tcpGbps?.median;
  const ratios = MIXED_RATIOS.map((q) => {
    const a = median(q.case), b = median(q.vs);
    return { ...q, ...(a !== undefined && b ? { ratio: a / b } : {}) };
  });
  return { options: { seconds, repeat }, samples, summary, ratios, underlayPaths, events };
}

export function mixedTables(m: MixedReport): string {
  const out: string[] = [];
  out.push(`mixed clusters (VXLAN, bridge underlay): TCP Gbit/s, medians of ${m.options.repeat} round(s) (min–max), ${m.options.seconds} s iperf3 runs`);
  out.push(table(['CASE', 'TCP Gbit/s', 'RUNS'], m.summary.map((s) => [
    s.case, s.tcpGbps ? (s.tcpGbps.n > 1 && s.tcpGbps.max > s.tcpGbps.min ? `${fmt(s.tcpGbps.median)} (${fmt(s.tcpGbps.min)}–${fmt(s.tcpGbps.max)})` : fmt(s.tcpGbps.median)) : 'n/a',
    s.tcpGbps?.n ?? 0,
  ])));
  out.push(table(['RATIO', 'MEASURED', 'TARGET'], m.ratios.map((q) => [`${q.case} / ${q.vs}`, q.ratio === undefined ? 'n/a' : q.ratio.toFixed(2), `>= ${q.target}`])));
  for (const [node, p] of Object.entries(m.underlayPaths)) out.push(`  ${node}: ${p.text}`);
  for (const [node, ev] of Object.entries(m.events)) out.push(`  ${node} (last round): ${Object.entries(ev).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  out.push(`  loadavg per sample: ${m.samples.map((s) => `${s.case} r${s.round}: ${s.loadavg}`).join('; ')}`);
  const errors = m.samples.filter((s) => s.error);
  for (const s of errors) out.push(`  failed: round ${s.round} ${s.case}: ${s.error}`);
  return out.join('\n');
}

export function mixedPanel(m: MixedReport): Panel {
  const bar = (c: MixedCase, series: string) => {
    const v = m.summary.find((s) => s.case === c)?.tcpGbps;
    return v ? { series, value: v.median, min: v.min, max: v.max } : { series, note: 'n/a: no sample' };
  };
  return {
    title: 'mixed clusters: TCP over VXLAN, offloads on',
    unit: 'Gbit/s',
    hint: 'higher is better',
    groups: [
      { label: 'podwire <-> podwire', bars: [bar('podwire-podwire/bridge', 'podwire (bridge underlay)'), bar('podwire-podwire/in-process', 'podwire (in-process)')] },
      { label: 'podwire -> kernel', bars: [bar('podwire->kernel', 'podwire (bridge underlay)'), bar('kernel-kernel', 'kernel')] },
      { label: 'kernel -> podwire', bars: [bar('kernel->podwire', 'podwire (bridge underlay)'), bar('kernel-kernel', 'kernel')] },
    ],
  };
}
