// Median, spread and percentiles of benchmark samples, and --cases validation.
import { describe, it, expect } from 'vitest';
import { median, summarize, percentile } from '../../bench/stats.ts';
import { parseCases, PATHS } from '../../bench/overlay.ts';

describe('summaries', () => {
  it('median of odd and even counts, never of the input order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarize: median, min..max and n of the finite samples; undefined when none', () => {
    expect(summarize([5, undefined, 1, 3, NaN])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(summarize([undefined, Infinity])).toBeUndefined();
    expect(summarize([])).toBeUndefined();
  });

  it('percentile by nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100 shuffled by reversal
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('--cases', () => {
  it('accepts known paths, in the order given, without duplicates', () => {
    expect(parseCases('vxlan, same-node,vxlan')).toEqual(['vxlan', 'same-node']);
    expect(parseCases(PATHS.join(','))).toEqual([...PATHS]);
  });

  it('names the unknown ones and the known ones', () => {
    expect(() => parseCases('same-node,geneve,wireguard')).toThrow(/unknown cases "geneve", "wireguard" \(expected some of same-node, host-gw, vxlan, ipip, clusterip\)/);
    expect(() => parseCases(' , ')).toThrow(/no case given/);
  });
});
