// bench overlay's tables and chart from a made-up report, and bench
// hotpath's "targets checked" and chart: n/a with reasons, ratios, verdicts.
import { describe, it, expect } from 'vitest';
import { overlayTables, overlayChart } from '../../bench/overlay-report.ts';
import type { OverlayReport, CaseSample } from '../../bench/overlay.ts';
import { summarize } from '../../bench/stats.ts';
import { pathArithmetic } from '../../bench/overlay-math.ts';
import { check, hotpathTargetChecks, targetsTable, hotpathChart } from '../../bench/hotpath-report.ts';
import { renderChart } from '../../bench/svg.ts';

function report(): OverlayReport {
  const samples: CaseSample[] = [1, 2, 3].flatMap((round) => [
    { round, path: 'vxlan' as const, dataplane: 'podwire' as const, metrics: { tcpGbps: 10 + round, cpuDataplaneSPerGB: 0.5 }, raw: {}, errors: round === 2 ? ['UDP 5 s, 64 B frames: iperf3 exploded'] : [] },
    { round, path: 'vxlan' as const, dataplane: 'kernel' as const, metrics: { tcpGbps: 20 }, raw: {}, errors: [] },
  ]);
  const s = (path: 'vxlan', dataplane: 'podwire' | 'kernel') => {
    const mine = samples.filter((x) => x.dataplane === dataplane);
    return {
      path, dataplane,
      metrics: { tcpGbps: summarize(mine.map((x) => x.metrics.tcpGbps))!, ...(dataplane === 'podwire' ? { cpuDataplaneSPerGB: summarize([0.5, 0.5, 0.5])! } : {}) },
      notApplicable: dataplane === 'kernel' ? { cpuDataplaneSPerGB: 'n/a: the kernel data plane is not a process' } : {},
    };
  };
  return {
    options: { paths: ['vxlan', 'ipip'], seconds: 5, repeat: 3, pings: 1000, roundTrips: 2000, serviceOverlay: 'vxlan' },
    paths: [
      { path: 'vxlan', description: 'vx', overlay: 'vxlan', arithmetic: pathArithmetic('vxlan', 1450) },
      { path: 'ipip', description: 'ip', overlay: 'ipip', arithmetic: pathArithmetic('ipip', 1480) },
    ],
    samples,
    summary: [s('vxlan', 'podwire'), s('vxlan', 'kernel'),
      { path: 'ipip', dataplane: 'podwire', metrics: { tcpGbps: summarize([9])! }, notApplicable: {} },
      { path: 'ipip', dataplane: 'kernel', skipped: 'n/a: no ipip module in this host kernel', metrics: {}, notApplicable: {} }],
    ratios: [{ path: 'vxlan', metric: 'tcpGbps', ratio: 12 / 20 }],
    notes: ['a note'],
  };
}

describe('bench overlay report', () => {
  it('table: median (min–max), n/a with its reason, ratios, arithmetic, failed probes, notes', () => {
    const t = overlayTables(report());
    expect(t).toMatch(/vxlan\/podwire\s+12\.0 \(11\.0–13\.0\)/);
    expect(t).toMatch(/ipip\/kernel\s+n\/a/);
    expect(t).toContain('every metric on ipip/kernel: n/a: no ipip module in this host kernel');
    expect(t).toContain('dp CPU s/GB on vxlan/kernel: n/a: the kernel data plane is not a process');
    expect(t).toMatch(/vxlan\s+0\.60/);
    expect(t).toMatch(/vxlan\s+vxlan\s+50\s+1450\s+1410\s+1538\s+91\.7%/);
    expect(t).toContain('round 2 vxlan/podwire: UDP 5 s, 64 B frames: iperf3 exploded');
    expect(t).toContain('note: a note');
  });

  it('chart: a panel per metric, bars for measured cases, the reason where none', () => {
    const svg = renderChart(overlayChart(report(), 'machine'));
    expect((svg.match(/class="bar"/g) ?? []).length).toBe(3 + 1); // TCP: vxlan x2, ipip podwire; dp CPU: vxlan podwire
    expect(svg).toContain('n/a: no ipip module in this host kernel');
    expect(svg).toContain('n/a: the kernel data plane is not a process');
  });
});

describe('bench hotpath targets', () => {
  it('met / NOT met and measured/target, both directions', () => {
    expect(check({ name: 'a', measured: 45, target: 30, unit: 'Mpps', cmp: '>=' })).toMatchObject({ met: true, ratio: 1.5 });
    expect(check({ name: 'b', measured: 1.2, target: 1.1, unit: 'x', cmp: '<=' })).toMatchObject({ met: false });
  });

  it('from results: bridge 64 B batch 256 (2K slots), best VXLAN encap and decap; table and chart', () => {
    const results = [
      { suite: 'bridge', frameBytes: 64, batch: 256, slotBytes: 2048, mpps: 25, nsPerFrame: 40, rme: 1, samples: 10 },
      { suite: 'bridge', frameBytes: 64, batch: 256, slotBytes: 65536, mpps: 99, nsPerFrame: 10, rme: 1, samples: 10 },
    ];
    const overlay = [1, 32, 256].flatMap((batch) => [
      { suite: 'route+vxlan encap', overlay: 'vxlan' as const, frameBytes: 64, batch, mpps: batch / 10, netMpps: 0, restoreMpps: 0, rme: 1 },
      { suite: 'vxlan decap+bridge', overlay: 'vxlan' as const, frameBytes: 64, batch, mpps: 21, netMpps: 0, restoreMpps: 0, rme: 1 },
    ]);
    const checks = hotpathTargetChecks({ results, overlay });
    expect(checks.map((c) => [c.measured, c.met])).toEqual([[25, false], [25.6, true], [21, true]]);
    const t = targetsTable(checks);
    expect(t).toMatch(/bridge forwarding with learning, 64 B, one core\s+25\.0 Mpps\s+>= 30 Mpps\s+NOT met\s+0\.83/);
    const svg = renderChart(hotpathChart({ results, overlay }, 'machine'));
    expect((svg.match(/class="bar"/g) ?? []).length).toBe(2 + 6);
    expect(svg).toContain('route+vxlan encap, 64 B');
  });
});
