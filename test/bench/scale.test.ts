// bench scale without a lab: the topology generator (checked by the same
// planner `podwire up` uses), the size flags, and the report arithmetic,
// tables and chart from hand-made results.
import { describe, it, expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { planTopology } from '../../src/model/topology.ts';
import { scaleTopology, parseScaleSizes, scalePodsOfNode } from '../../bench/scale-topology.ts';
import { parsePhaseLines, cpuPercent, perPodSlopes, scaleTargetChecks, scaleTables, scaleChart, type ScaleLabResult, type ScaleReport } from '../../bench/scale-math.ts';
import { processCpuTicks } from '../../bench/scale.ts';
import { renderChart } from '../../bench/svg.ts';

describe('bench scale topology', () => {
  it('1000 pods on 50 nodes: 20 per node, every pod once, a valid plan', () => {
    const plan = planTopology(parseYaml(scaleTopology({ pods: 1000, nodes: 50 }, 'scale1000')));
    expect(plan.name).toBe('scale1000');
    expect(plan.nodes).toHaveLength(50);
    expect(plan.nodes.every((n) => n.pods.length === 20)).toBe(true);
    const names = plan.nodes.flatMap((n) => n.pods.map((p) => p.name));
    expect(new Set(names).size).toBe(1000);
    expect(plan.nodes[49].pods[19].namespace).toBe('pw-sc-999');
  });

  it('an uneven split gives the first nodes one pod more', () => {
    expect([0, 1].map((i) => scalePodsOfNode({ pods: 3, nodes: 2 }, i))).toEqual([['sc-0', 'sc-1'], ['sc-2']]);
    const plan = planTopology(parseYaml(scaleTopology({ pods: 101, nodes: 10 }, 's')));
    expect(plan.nodes.map((n) => n.pods.length)).toEqual([11, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
  });

  it('--pods/--nodes: pairwise, one --nodes for all, and errors naming the flag', () => {
    expect(parseScaleSizes('3,100,1000', '2,10,50')).toEqual([{ pods: 3, nodes: 2 }, { pods: 100, nodes: 10 }, { pods: 1000, nodes: 50 }]);
    expect(parseScaleSizes('10,20', '2')).toEqual([{ pods: 10, nodes: 2 }, { pods: 20, nodes: 2 }]);
    expect(() => parseScaleSizes('3,x', '2')).toThrow(/--pods: expected whole numbers >= 1, got "x"/);
    expect(() => parseScaleSizes('3,4', '2,2,2')).toThrow(/--nodes: give one value or one per --pods value \(2\), got 3/);
    expect(() => parseScaleSizes('3', '1')).toThrow(/at least 2 nodes/);
    expect(() => parseScaleSizes('3', '5')).toThrow(/at least one pod per node/);
    expect(() => parseScaleSizes('1000', '2')).toThrow(/at most 200 pods per node/);
  });
});

const lab = (o: Partial<ScaleLabResult> & { pods: number; nodes: number }): ScaleLabResult => ({ loadavg: '0.10 0.20 0.30', ...o });

describe('bench scale report', () => {
  it('reads the phase lines podwire prints with PODWIRE_DEBUG', () => {
    const err = 'podwire: up phase pod namespaces (1000): 812.5 ms\nnoise\npodwire: down phase namespaces deleted (1001): 950 ms\npodwire: up phase TAPs opened: 40 ms\n';
    expect(parsePhaseLines(err, 'up')).toEqual([{ phase: 'pod namespaces (1000)', ms: 812.5 }, { phase: 'TAPs opened', ms: 40 }]);
    expect(parsePhaseLines(err, 'down')).toEqual([{ phase: 'namespaces deleted (1001)', ms: 950 }]);
  });

  it('idle CPU: ticks over wall time as % of a core', () => {
    expect(cpuPercent(20, 100, 10)).toBeCloseTo(2);
    expect(cpuPercent(0, 100, 5)).toBe(0);
    expect(cpuPercent(5, 100, 0)).toBeNaN();
  });

  it('reads its own CPU ticks from /proc', () => {
    const t = processCpuTicks(process.pid);
    expect(Number.isInteger(t) && t >= 0).toBe(true);
  });

  it('per-pod slopes between consecutive labs, failed labs left out', () => {
    const labs = [
      lab({ pods: 100, nodes: 10, rssBytes: 200e6, readyMs: 1000 }),
      lab({ pods: 3, nodes: 2, rssBytes: 100e6, readyMs: 500 }),
      lab({ pods: 500, nodes: 20, error: 'boom' }),
      lab({ pods: 1000, nodes: 50, rssBytes: 290e6, readyMs: 5500 }),
    ];
    const s = perPodSlopes(labs);
    expect(s.map((x) => [x.from, x.to])).toEqual([[3, 100], [100, 1000]]);
    expect(s[0].rssBytes).toBeCloseTo(100e6 / 97);
    expect(s[1].readyMs).toBeCloseTo(5);
    expect(s[1].downMs).toBeUndefined();
  });

  it('targets of the 1000-pod lab: met, not met, n/a', () => {
    const checks = scaleTargetChecks([lab({ pods: 1000, nodes: 50, readyMs: 9000, downMs: 6000 })]);
    expect(checks.map((c) => c.met)).toEqual([true, false, undefined]);
    expect(checks[1].measured).toBe('6.00 s');
    expect(scaleTargetChecks([lab({ pods: 3, nodes: 2 })])).toEqual([]);
  });

  it('table and chart: a failed lab says so, leftovers are reported', () => {
    const r: ScaleReport = {
      options: { idleSeconds: 2, pings: 50, iperfSeconds: 1 },
      labs: [
        lab({ pods: 3, nodes: 2, readyMs: 800, downMs: 300, rssBytes: 90 * 2 ** 20, tcpGbps: 9.5, pingP50Us: 300, pingP99Us: 500, idleCpuPct: 0.4, leftovers: [], upPhases: [{ phase: 'TAPs opened', ms: 1 }] }),
        lab({ pods: 100, nodes: 10, readyMs: 2000, leftovers: ['pw-sc-7'] }),
        lab({ pods: 1000, nodes: 50, error: 'podwire up exited (1) before ready: oops' }),
      ],
    };
    const t = scaleTables(r);
    expect(t).toContain('FAILED: podwire up exited (1) before ready: oops');
    expect(t).toContain('left 1 namespace(s)');
    expect(t).toContain('3 pods: up phases (ms): TAPs opened 1');
    expect(t).toMatch(/up -> ready <= 10 s .* n\/a/);
    const svg = renderChart(scaleChart(r, 'test machine'));
    expect(svg).toContain('<svg');
    expect(svg).toContain('n/a: lab failed (podwire up exited (1) before ready: oops)');
    expect(svg).toContain('3 pods, 2 nodes');
  });
});
