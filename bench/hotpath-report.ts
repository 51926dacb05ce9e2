// bench hotpath's "targets checked" table (the targets set by earlier issues,
// with what this run measured against them) and its SVG chart (Mpps per
// suite, frame size and batch).
import { table } from '../src/util/table.ts';
import type { HotpathResult } from './hotpath.ts';
import type { OverlayHotpathResult } from './overlay-hotpath.ts';
import { serviceTargetChecks, type ServiceHotpathResult } from './service-hotpath.ts';
import { policyTargetChecks, type PolicyHotpathData } from './policy-hotpath.ts';
import { summarize } from './stats.ts';
import type { TraceCostSample, TraceCostSummary } from './trace-cost.ts';
import { fmt, type Chart, type Panel } from './svg.ts';

export interface HotpathData {
  results?: HotpathResult[]; overlay?: OverlayHotpathResult[]; service?: ServiceHotpathResult[];
  /** tracing off (release) against a build without trace points (notrace): trace-cost.ts */
  trace?: { samples: TraceCostSample[]; summary: TraceCostSummary[] };
  /** NetworkPolicy: policy-hotpath.ts */
  policy?: PolicyHotpathData;
}

export interface TargetCheck { name: string; measured: number; target: number; unit: string; cmp: '>=' | '<='; met: boolean; ratio: number; note?: string }

export function check(c: Omit<TargetCheck, 'met' | 'ratio'>): TargetCheck {
  const met = c.cmp === '>=' ? c.measured >= c.target : c.measured <= c.target;
  return { ...c, met, ratio: c.measured / c.target };
}

export function hotpathTargetChecks(d: HotpathData): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const bridge64 = d.results?.find((r) => r.suite === 'bridge' && r.frameBytes === 64 && r.batch === 256 && r.slotBytes < 65536);
  if (bridge64) checks.push(check({ name: 'bridge forwarding with learning, 64 B, one core', measured: bridge64.mpps, target: 30, unit: 'Mpps', cmp: '>=' }));
  if (d.overlay?.length) {
    const best = (suite: string) => Math.max(...d.overlay!.filter((r) => r.suite === suite && r.frameBytes === 64).map((r) => r.mpps));
    checks.push(check({ name: 'route + VXLAN encap, 64 B inner', measured: best('route+vxlan encap'), target: 20, unit: 'Mpps', cmp: '>=', note: 'best batch, input restore included' }));
    checks.push(check({ name: 'VXLAN decap + bridge, 64 B inner', measured: best('vxlan decap+bridge'), target: 20, unit: 'Mpps', cmp: '>=', note: 'best batch, input restore included' }));
  }
  if (d.service) for (const c of serviceTargetChecks(d.service)) checks.push(check(c));
  if (d.policy) for (const c of policyTargetChecks(d.policy)) checks.push(check(c));
  // "tracing off costs nothing measurable": the paired per-round ratio within 2 % of the build without trace points
  for (const t of d.trace?.summary ?? []) {
    checks.push(check({ name: `tracing off vs no trace points, ${t.suite}, 64 B, batch 256`, measured: t.ratio, target: 0.98, unit: 'x', cmp: '>=',
      note: `median of per-round ratios, range ${t.ratioMin.toFixed(3)}-${t.ratioMax.toFixed(3)}${t.withinNoise ? ', 1.0 within it' : ''}; ${t.release.median.toFixed(1)} vs ${t.notrace.median.toFixed(1)} Mpps` }));
  }
  return checks;
}

export function targetsTable(checks: TargetCheck[]): string {
  return table(['TARGET', 'MEASURED', 'TARGET', 'VERDICT', 'MEASURED/TARGET'], checks.map((c) => [
    c.name + (c.note ? ` (${c.note})` : ''), `${fmt(c.measured)} ${c.unit}`, `${c.cmp} ${c.target} ${c.unit}`, c.met ? 'met' : 'NOT met', c.ratio.toFixed(2),
  ]));
}

/** One panel per suite family; groups are suite + frame size, bars are batch sizes (median and min..max of repeats). */
export function hotpathChart(d: HotpathData, machine: string): Chart {
  const panels: Panel[] = [];
  const panel = <T extends { batch: number; mpps: number }>(title: string, rows: T[], group: (r: T) => string) => {
    if (!rows.length) return;
    const groups = [...new Set(rows.map(group))];
    const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
    panels.push({
      title, unit: 'Mpps', hint: 'higher is better, one core, in memory',
      groups: groups.map((g) => ({
        label: g,
        bars: batches.flatMap((b) => {
          const s = summarize(rows.filter((r) => group(r) === g && r.batch === b).map((r) => r.mpps));
          return s ? [{ series: `batch ${b}`, value: s.median, min: s.min, max: s.max }] : [];
        }),
      })),
    });
  };
  panel('bridge suite (parse, bridge forwarding with learning)', (d.results ?? []).filter((r) => r.suite !== 'crossing'),
    (r) => `${r.suite}, ${r.frameBytes} B${r.slotBytes >= 65536 ? ', 64K slots' : ''}`);
  panel('routing + overlays (input restore included)', d.overlay ?? [], (r) => `${r.suite}, ${r.frameBytes} B`);
  panel('Service DNAT (input restore included)', (d.service ?? []).filter((r) => !r.scaling),
    (r) => (r.suite === 'established' ? `established, ${r.flows} flows, ${r.frameBytes} B` : 'new connections'));
  panel('Service-count scaling (input restore included)', (d.service ?? []).filter((r) => r.scaling),
    (r) => `${r.suite}, ${r.services} Services`);
  panel('NetworkPolicy, Service traffic (input restore included; rounds)', (d.policy?.results ?? []).map((r) => ({ ...r, batch: 256 })),
    (r) => `${r.suite}, ${r.policies} policies`);
  return { title: 'podwire bench hotpath', subtitle: machine, panels };
}
