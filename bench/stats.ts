// Summaries of repeated samples: the median, and the spread as min..max,
// because on a noisy machine one run is an anecdote.

export interface Summary { median: number; min: number; max: number; n: number }

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median and min..max of the finite values; undefined when there are none (the metric does not apply). */
export function summarize(xs: (number | undefined)[]): Summary | undefined {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** The p-th percentile (0..100) by nearest rank of the sorted values. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}
