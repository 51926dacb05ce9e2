// The comparison plans of bench e2e and bench overlay are like for like:
// every contender of a comparison at one pod MTU (the one its lab really
// gets) and one offload setting, and the order alternates between rounds
// (podwire first in odd rounds, the kernel first in even ones).
import { describe, it, expect } from 'vitest';
import { e2eCases, e2eSingleNodePlan, e2eCrossNodePlan, roundOrder, OFFLOADS_OFF, ETHTOOL_OFFLOADS, type E2eCase } from '../../bench/plan.ts';
import { overlayRoundOrder, casePlan, DATAPLANES } from '../../bench/overlay.ts';
import { PATHS } from '../../bench/overlay-cases.ts';

const all = e2eCases({ offloadOff: true, overlays: true });
const byComparison = (cases: E2eCase[]) => {
  const m = new Map<string, E2eCase[]>();
  for (const c of cases) m.set(c.comparison, [...(m.get(c.comparison) ?? []), c]);
  return m;
};

describe('bench e2e plan', () => {
  it('every comparison has podwire and at least one other contender, at one MTU, with one offload setting', () => {
    const groups = byComparison(all);
    expect(groups.size).toBeGreaterThanOrEqual(5);
    for (const [name, g] of groups) {
      if (!name.includes('ipip')) expect(new Set(g.map((c) => c.contender)).size, name).toBeGreaterThanOrEqual(2);
      expect(new Set(g.map((c) => c.mtu)), name).toEqual(new Set([g[0].mtu]));
      for (const c of g) expect(c.offloads, `${name}: ${c.name}`).toEqual(g[0].offloads);
      expect(name, 'the comparison names its MTU').toContain(`MTU ${g[0].mtu}`);
    }
  });

  it('same node: podwire, the C forwarder and the kernel all at MTU 1500, and podwire\'s lab really gives its pods 1500', () => {
    const same = all.filter((c) => c.comparison.startsWith('same node'));
    expect(same.map((c) => c.mtu)).toEqual(same.map(() => 1500));
    expect(e2eSingleNodePlan('bench', ['bench-a', 'bench-b'], true, 1500).podMtu).toBe(1500);
    expect(e2eSingleNodePlan('bench', ['bench-a', 'bench-b'], false, 1500).podMtu).toBe(1500);
  });

  it('cross node: the kernel\'s lab and podwire\'s lab give pods the MTU the comparison says', () => {
    for (const c of all.filter((x) => x.overlay)) {
      expect(e2eCrossNodePlan({ overlay: c.overlay!, contender: c.contender, underlay: c.underlay }).podMtu, c.name).toBe(c.mtu);
    }
    expect(all.find((c) => c.name === 'cross-node podwire VXLAN')!.mtu).toBe(1450);
  });

  it('offloads off: tx checksum, TSO, GSO and GRO off for every contender (kernel included)', () => {
    expect([...ETHTOOL_OFFLOADS]).toEqual(['tx', 'tso', 'gso', 'gro']);
    const off = all.filter((c) => c.offloads.mode === 'off');
    expect(off.map((c) => c.contender).sort()).toEqual(['c-forwarder', 'kernel', 'podwire']);
    for (const c of off) expect(c.offloads).toEqual(OFFLOADS_OFF);
  });

  it('order alternates: podwire first in odd rounds, the kernel first in even rounds; a comparison runs back to back', () => {
    for (const round of [1, 2, 3, 4]) {
      const order = roundOrder(all, round);
      expect(order).toHaveLength(all.length);
      for (const [name, g] of byComparison(order)) {
        const idx = order.map((c, i) => (c.comparison === name ? i : -1)).filter((i) => i >= 0);
        expect(idx[idx.length - 1] - idx[0], `${name} contiguous`).toBe(idx.length - 1);
        if (g.some((c) => c.contender === 'kernel')) {
          expect(g[0].contender, `round ${round}: ${name}`).toBe(round % 2 ? 'podwire' : 'kernel');
          expect(g[g.length - 1].contender, `round ${round}: ${name}`).toBe(round % 2 ? 'kernel' : 'podwire');
        }
      }
    }
  });
});

describe('bench overlay plan', () => {
  const cases = PATHS.flatMap((path) => DATAPLANES.map((dataplane) => ({ path, dataplane })));

  it('order alternates per round: podwire first in odd rounds, the kernel first in even rounds', () => {
    expect(overlayRoundOrder(cases, 1).slice(0, 4)).toEqual([
      { path: 'same-node', dataplane: 'podwire' }, { path: 'same-node', dataplane: 'kernel' },
      { path: 'host-gw', dataplane: 'podwire' }, { path: 'host-gw', dataplane: 'kernel' },
    ]);
    expect(overlayRoundOrder(cases, 2).slice(0, 4)).toEqual([
      { path: 'same-node', dataplane: 'kernel' }, { path: 'same-node', dataplane: 'podwire' },
      { path: 'host-gw', dataplane: 'kernel' }, { path: 'host-gw', dataplane: 'podwire' },
    ]);
    // a path with only podwire (kernel ipip not runnable) keeps its place
    const runnable = cases.filter((c) => !(c.path === 'ipip' && c.dataplane === 'kernel'));
    expect(overlayRoundOrder(runnable, 2).filter((c) => c.path === 'ipip')).toEqual([{ path: 'ipip', dataplane: 'podwire' }]);
  });

  it('podwire and kernel of a path: the same pod MTU, with offloads on and off', () => {
    for (const path of PATHS.filter((p) => p !== 'ipip')) { // no kernel IP-in-IP nodes here (KERNEL_IPIP_REASON)
      for (const offloads of [true, false]) {
        const mtus = DATAPLANES.map((dp) => casePlan(path, dp, offloads, 'pwbo', 'vxlan').podMtu);
        expect(mtus[0], `${path} offloads ${offloads}`).toBe(mtus[1]);
      }
    }
  });
});
