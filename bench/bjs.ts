// One benchmark.js measurement: calls per second of `fn`, with its relative margin of error.
import Benchmark from 'benchmark';

export interface Timing { hz: number; rme: number; samples: number }

export function timeIt(name: string, fn: () => void, maxTime: number): Promise<Timing> {
  return new Promise((resolve, reject) => {
    new Benchmark(name, fn, {
      maxTime,
      onComplete(ev: Benchmark.Event) {
        const b = ev.target as unknown as Benchmark;
        if (b.error) reject(b.error);
        else resolve({ hz: b.hz ?? 0, rme: b.stats.rme, samples: b.stats.sample.length });
      },
    }).run();
  });
}
