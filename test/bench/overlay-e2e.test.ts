// Root smoke run of bench overlay, through the function: the same-node case,
// one round of 1 s runs, podwire beside the kernel. Every metric that applies
// gets a finite sample for both, nothing failed, and nothing is left on the host.
import { describe, it, expect, afterAll } from 'vitest';
import { isRoot, hostLeftovers } from '../helpers/lab.ts';
import { runOverlay, METRICS } from '../../bench/overlay.ts';
import { overlayTables, overlayChart } from '../../bench/overlay-report.ts';
import { renderChart } from '../../bench/svg.ts';

if (!isRoot) console.warn('test/bench/overlay-e2e.test.ts: skipped — needs root (creates network namespaces and TAP devices)');

const LAB = 'pwbt';

describe.skipIf(!isRoot)('bench overlay, smoke (root)', () => {
  afterAll(async () => {
    const left = await hostLeftovers([`pw-${LAB}`, `pw-node-${LAB}`, `pw-ul-${LAB}`]);
    expect(left).toEqual({ namespaces: [], links: [] });
  });

  it('same-node, 1 round, 1 s: every metric has a finite sample for podwire and kernel', async () => {
    const lines: string[] = [];
    const r = await runOverlay({ paths: ['same-node'], seconds: 1, repeat: 1, pings: 50, roundTrips: 200, labName: LAB, log: (s) => lines.push(s) });
    expect(r.samples.flatMap((s) => s.errors)).toEqual([]);
    for (const dp of ['podwire', 'kernel'] as const) {
      const s = r.summary.find((x) => x.path === 'same-node' && x.dataplane === dp)!;
      for (const m of METRICS) {
        if (s.notApplicable[m.key]) continue;
        expect(s.metrics[m.key], `${dp} ${m.key}`).toBeDefined();
        expect(Number.isFinite(s.metrics[m.key]!.median), `${dp} ${m.key}`).toBe(true);
      }
    }
    // only the kernel's data-plane CPU does not apply to a same-node pair
    expect(Object.keys(r.summary.find((x) => x.dataplane === 'kernel')!.notApplicable)).toEqual(['cpuDataplaneSPerGB']);
    expect(r.paths[0].arithmetic.podMtu).toBe(1500);
    expect(lines.some((l) => l.startsWith('[round 1/1] [case 2/2] same-node/kernel: TCP 1 s'))).toBe(true);
    expect(overlayTables(r)).toContain('same-node/podwire');
    expect(renderChart(overlayChart(r, 'test'))).toContain('<svg');
  }, 60_000);
});
