// One benchmark.js measurement: calls per second of `fn`, with its relative margin of error.
import Benchmark from 'benchmark';

export interface Timing { hz: number; rme: number; samples: number }

export interface TimeItOptions {
  /**
   * Called after every timed cycle (each calibration round and each sample:
   * benchmark.js emits "cycle" on the benchmark for every run of its
   * compiled loop), outside the timed region: where state the loop used up
   * (e.g. a conntrack table filled with new flows) is put back.
   */
  onCycle?: () => void;
  /** seconds one timed cycle must last at least (benchmark.js default: 0.05) */
  minTime?: number;
}

export function timeIt(name: string, fn: () => void, maxTime: number, opts: TimeItOptions = {}): Promise<Timing> {
  return new Promise((resolve, reject) => {
    new Benchmark(name, fn, {
      maxTime,
      ...(opts.minTime !== undefined ? { minTime: opts.minTime } : {}),
      ...(opts.onCycle ? { onCycle: opts.onCycle } : {}),
      onComplete(ev: Benchmark.Event) {
        const b = ev.target as unknown as Benchmark;
        if (b.error) reject(b.error);
        else resolve({ hz: b.hz ?? 0, rme: b.stats.rme, samples: b.stats.sample.length });
      },
    }).run();
  });
}
