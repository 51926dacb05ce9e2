// How bench overlay's report is shown: terminal tables (medians with their
// min..max, n/a with a reason, podwire/kernel ratios, the overlay
// arithmetic) and the SVG chart, one panel per metric.
import { table } from '../src/util/table.ts';
import { METRICS, type OverlayReport, type MetricKey } from './overlay.ts';
import type { Summary } from './stats.ts';
import { fmt, type Chart } from './svg.ts';

const SHORT: Record<MetricKey, string> = {
  tcpGbps: 'TCP Gbit/s', tcpOffGbps: 'TCP no-offl Gbit/s', udpMpps: 'UDP64 Mpps', pingP50Us: 'ping p50 µs', pingP99Us: 'ping p99 µs',
  rrP50Us: 'RR p50 µs', rrP99Us: 'RR p99 µs', cpuDataplaneSPerGB: 'dp CPU s/GB', cpuMachineSPerGB: 'host CPU s/GB',
};

function cell(s: Summary | undefined): string {
  if (!s) return 'n/a';
  return s.n > 1 && s.max > s.min ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median);
}

export function overlayTables(r: OverlayReport): string {
  const out: string[] = [];
  out.push(`medians of ${r.options.repeat} round(s), (min–max) when they differ; ${r.options.seconds} s iperf3 runs, ${r.options.pings} pings, ${r.options.roundTrips} TCP round trips`);
  out.push(table(['CASE', ...METRICS.map((m) => SHORT[m.key]), 'RUNS'], r.summary.map((s) => [
    `${s.path}/${s.dataplane}`,
    ...METRICS.map((m) => (s.skipped ? 'n/a' : cell(s.metrics[m.key]))),
    s.skipped ? 0 : Math.max(0, ...Object.values(s.metrics).map((x) => x!.n)),
  ])));
  // one line per reason: which columns, on which cases
  const reasons = new Map<string, { what: Set<string>; cases: Set<string> }>();
  const add = (why: string, what: string, c: string) => {
    const e = reasons.get(why) ?? { what: new Set<string>(), cases: new Set<string>() };
    e.what.add(what);
    e.cases.add(c);
    reasons.set(why, e);
  };
  for (const s of r.summary) {
    if (s.skipped) add(s.skipped, 'every metric', `${s.path}/${s.dataplane}`);
    for (const [k, why] of Object.entries(s.notApplicable)) add(why, SHORT[k as MetricKey], `${s.path}/${s.dataplane}`);
  }
  for (const [why, e] of reasons) out.push(`  ${[...e.what].join(', ')} on ${[...e.cases].join(', ')}: ${why}`);
  out.push('');
  out.push('podwire / kernel (medians; above 1 is better for throughput, worse for latency and CPU)');
  out.push(table(['PATH', ...METRICS.map((m) => SHORT[m.key])], r.options.paths.map((p) => [
    p, ...METRICS.map((m) => { const x = r.ratios.find((q) => q.path === p && q.metric === m.key); return x ? x.ratio.toFixed(2) : 'n/a'; }),
  ])));
  out.push('');
  out.push('overlay arithmetic (computed): ceiling = MSS / (pod MTU + overlay bytes + 14 Ethernet + 4 FCS + 8 preamble + 12 gap), of line rate');
  out.push(table(['PATH', 'OVERLAY', 'HDR B/PKT', 'POD MTU', 'TCP MSS', 'WIRE B/SEGMENT', 'CEILING', 'AT 10G'], r.paths.map((p) => [
    p.path, p.overlay, p.arithmetic.headerBytes, p.arithmetic.podMtu, p.arithmetic.tcpMss, p.arithmetic.wireBytes,
    `${(p.arithmetic.ceiling * 100).toFixed(1)}%`, `${(p.arithmetic.ceiling * 10).toFixed(2)} Gbit/s`,
  ])));
  for (const p of r.paths) out.push(`  ${p.path}: ${p.description}`);
  const errors = r.samples.flatMap((s) => s.errors.map((e) => `round ${s.round} ${s.path}/${s.dataplane}: ${e}`));
  if (errors.length) {
    out.push('');
    out.push(`failed probes (${errors.length}; their metrics have no sample that round):`);
    for (const e of errors) out.push(`  ${e}`);
  }
  if (r.notes.length) out.push('', ...r.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

export function overlayChart(r: OverlayReport, machine: string): Chart {
  return {
    title: 'podwire bench overlay: podwire vs the Linux kernel',
    subtitle: `${machine}\nmedian of ${r.options.repeat} round(s), whiskers min–max; ${r.options.seconds} s runs; ClusterIP over ${r.options.serviceOverlay}`,
    panels: METRICS.map((m) => ({
      title: m.label,
      unit: m.unit,
      hint: m.better === 'higher' ? 'higher is better' : 'lower is better',
      groups: r.options.paths.map((path) => ({
        label: path,
        bars: r.summary.filter((s) => s.path === path).map((s) => {
          const v = s.metrics[m.key];
          return v
            ? { series: s.dataplane, value: v.median, min: v.min, max: v.max }
            : { series: s.dataplane, note: s.skipped ?? s.notApplicable[m.key] ?? 'n/a: no sample (see the failed probes)' };
        }),
      })),
    })),
  };
}
