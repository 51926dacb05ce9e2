// Median, spread and percentiles of benchmark samples.
import { describe, it, expect } from 'vitest';
import { median, summarize, percentile } from '../../bench/stats.ts';

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
