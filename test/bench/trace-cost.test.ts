// The tracing-cost suite end to end, one short round: both builds measured
// on both suites, and the target check built from them.
import { describe, it, expect } from 'vitest';
import { runTraceCost } from '../../bench/trace-cost.ts';
import { hotpathTargetChecks } from '../../bench/hotpath-report.ts';

describe('trace cost suite', () => {
  it('measures release (tracing off) and notrace on the bridge and route + VXLAN, interleaved', async () => {
    const lines: string[] = [];
    const r = await runTraceCost({ quick: true, rounds: 1, log: (s) => lines.push(s) });
    expect(r.samples.map((s) => `${s.suite}/${s.build}`)).toEqual([
      'bridge/release', 'bridge/notrace', 'route+vxlan encap/release', 'route+vxlan encap/notrace',
    ]);
    for (const s of r.samples) expect(s.mpps).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^\[1\/4\] trace cost: bridge/);
    const checks = hotpathTargetChecks({ trace: r });
    expect(checks.map((c) => c.name)).toEqual([
      'tracing off vs no trace points, bridge, 64 B, batch 256',
      'tracing off vs no trace points, route+vxlan encap, 64 B, batch 256',
    ]);
    expect(checks[0].ratio).toBeCloseTo(r.summary[0].ratio / 0.98, 6);
    // one round: the paired ratio is that round's
    expect(r.summary[0].ratio).toBeCloseTo(r.samples[0].mpps / r.samples[1].mpps, 9);
  }, 60_000);
});
