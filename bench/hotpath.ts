// Hot-path suites (benchmark.js): frames already in WASM memory, one call
// per batch, as the worker makes it. Reports Mpps and ns/frame.
//   npx podwire bench hotpath [--quick]
import Benchmark from 'benchmark';
import { Dataplane, MTU_SLOT_SIZE, GSO_SLOT_SIZE } from '../src/dataplane/dataplane.ts';
import { udpFrame, mac } from './frames.ts';
import type { Build } from '../src/dataplane/wasm.ts';

export interface HotpathResult {
  suite: string;
  frameBytes: number;
  batch: number;
  slotBytes: number;
  mpps: number;
  nsPerFrame: number;
  rme: number;
  samples: number;
}

const PORTS = 4;

/** A node with PORTS pods that have all been learned, and `batch` unicast frames between them in its slots. */
export function prepare(frameBytes: number, batch: number, slotSize: number, build: Build = 'release'): Dataplane {
  const dp = new Dataplane({ slots: 256, slotSize, maxPorts: 8, fdbCapacity: 4096, build });
  dp.setGateway('10.244.0.1', '0a:58:0a:f4:00:01');
  for (let p = 0; p < PORTS; p++) dp.attachPort(p, 1500);
  // learn every pod's MAC first, so the timed runs are known unicast + refresh, never floods
  for (let p = 0; p < PORTS; p++) dp.putFrame(p, p, udpFrame(frameBytes, mac(p), mac((p + 1) % PORTS)));
  dp.process(PORTS);
  for (let i = 0; i < batch; i++) {
    const port = i % PORTS;
    dp.putFrame(i, port, udpFrame(frameBytes, mac(port), mac((port + 1) % PORTS)));
  }
  return dp;
}

export async function runHotpath(opts: { quick?: boolean; log?: (s: string) => void } = {}): Promise<HotpathResult[]> {
  const log = opts.log ?? console.log;
  const maxTime = opts.quick ? 0.25 : 1.5;
  const results: HotpathResult[] = [];
  const cases: { frameBytes: number; batch: number; slotSize: number }[] = [];
  for (const frameBytes of [64, 1500]) for (const batch of [1, 32, 256]) cases.push({ frameBytes, batch, slotSize: MTU_SLOT_SIZE });
  // the layout a lab with offloads uses: 64 KiB slots (a frame per page or more)
  cases.push({ frameBytes: 64, batch: 256, slotSize: GSO_SLOT_SIZE });

  for (const [i, c] of cases.entries()) {
    const step = `[${i + 1}/${cases.length + 1}]`;
    const dp = prepare(c.frameBytes, c.batch, c.slotSize);
    const before = dp.counters();
    const suite = new Benchmark.Suite();
    const ex = dp.ex;
    const batch = c.batch;
    suite
      .add('parse', () => { ex.parseBatch(batch); }, { maxTime })
      .add('bridge', () => { ex.txClear(); ex.processBatch(0, batch); }, { maxTime });
    await new Promise<void>((resolve) => {
      suite.on('cycle', (ev: Benchmark.Event) => {
        const b = ev.target as unknown as Benchmark;
        const mpps = ((b.hz ?? 0) * batch) / 1e6;
        const r: HotpathResult = {
          suite: b.name ?? '?', frameBytes: c.frameBytes, batch, slotBytes: c.slotSize,
          mpps, nsPerFrame: 1000 / mpps, rme: b.stats.rme, samples: b.stats.sample.length,
        };
        results.push(r);
        log(`${step} ${r.suite.padEnd(7)} ${String(c.frameBytes).padStart(5)} B  batch ${String(batch).padStart(3)}  slot ${c.slotSize >= 65536 ? '64K' : '2K '}  ${mpps.toFixed(2).padStart(7)} Mpps  ${r.nsPerFrame.toFixed(1).padStart(6)} ns/frame  ±${r.rme.toFixed(1)}%`);
      });
      suite.on('complete', () => resolve());
      suite.run({ async: false });
    });
    // honesty check: the timed work forwarded without flooding or dropping
    const after = dp.counters();
    const floods = after.events.flooded - before.events.flooded;
    const drops = Object.values(after.drops).reduce((a, b) => a + b, 0) - Object.values(before.drops).reduce((a, b) => a + b, 0);
    if (floods !== 0 || drops !== 0) log(`  warning: ${floods} floods, ${drops} drops during timed runs`);
  }

  // the cost of one JS -> WASM crossing: an empty batch
  const dp = prepare(64, 1, MTU_SLOT_SIZE);
  const ex = dp.ex;
  await new Promise<void>((resolve) => {
    new Benchmark('crossing', () => { ex.processBatch(0, 0); }, {
      maxTime,
      onComplete(ev: Benchmark.Event) {
        const b = ev.target as unknown as Benchmark;
        const ns = 1e9 / (b.hz ?? 1);
        results.push({ suite: 'crossing', frameBytes: 0, batch: 0, slotBytes: 0, mpps: 0, nsPerFrame: ns, rme: b.stats.rme, samples: b.stats.sample.length });
        log(`[${cases.length + 1}/${cases.length + 1}] crossing: one empty processBatch call costs ${ns.toFixed(1)} ns`);
        resolve();
      },
    }).run();
  });
  return results;
}
