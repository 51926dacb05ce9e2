// What decision tracing costs when it is off: the release build (every
// trace point present, tracing switched off: one load and a branch not
// taken each) against the "notrace" build (the same source compiled with
// --use TRACE_BUILD=0: no trace point at all), on the bridge and on route +
// VXLAN encapsulation, 64-byte frames, batch 256. Each round measures both
// builds back to back (alternating which goes first), so the ratio within a
// round is what drift on a noisy machine disturbs least: the summary is the
// median of those paired ratios, with their lowest and highest.
//   npx podwire bench hotpath --suites trace
import { prepare as bridgeNode } from './hotpath.ts';
import { prepare as overlayNodes } from './overlay-hotpath.ts';
import { MTU_SLOT_SIZE } from '../src/dataplane/dataplane.ts';
import { timeIt } from './bjs.ts';
import type { Build } from '../src/dataplane/wasm.ts';

export interface TraceCostSample { suite: string; build: Build; round: number; mpps: number; rme: number }
export interface TraceCostSummary {
  suite: string;
  /** median Mpps per build, and the lowest/highest round */
  release: { median: number; min: number; max: number };
  notrace: { median: number; min: number; max: number };
  /** median over rounds of release / notrace measured in the same round */
  ratio: number;
  /** the lowest and highest of those per-round ratios */
  ratioMin: number;
  ratioMax: number;
  /** 1.0 lies within the per-round ratios: no difference the rounds can tell from noise */
  withinNoise: boolean;
}

const BATCH = 256;

/** One timed run of `suite` on `build`: Mpps. */
async function measure(suite: string, build: Build, maxTime: number): Promise<{ mpps: number; rme: number }> {
  if (suite === 'bridge') {
    const dp = bridgeNode(64, BATCH, MTU_SLOT_SIZE, build);
    const ex = dp.ex;
    const t = await timeIt(`${suite}/${build}`, () => { ex.txClear(); ex.processBatch(0, BATCH); }, maxTime);
    return { mpps: (t.hz * BATCH) / 1e6, rme: t.rme };
  }
  // route + VXLAN encap rewrites frames in place: each batch restores its input first (as overlay-hotpath.ts)
  const { n1, inLen } = overlayNodes('vxlan', 64, BATCH, build);
  const ex = n1.ex;
  const tpl = n1.readOffset(BATCH);
  const stride = n1.slotSize;
  const t = await timeIt(`${suite}/${build}`, () => { ex.benchRestore(0, BATCH, tpl, stride, inLen); ex.txClear(); ex.processBatch(0, BATCH); }, maxTime);
  return { mpps: (t.hz * BATCH) / 1e6, rme: t.rme };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

export async function runTraceCost(opts: { quick?: boolean; rounds?: number; log?: (s: string) => void } = {}): Promise<{ samples: TraceCostSample[]; summary: TraceCostSummary[] }> {
  const log = opts.log ?? console.log;
  const rounds = opts.rounds ?? (opts.quick ? 2 : 10);
  const maxTime = opts.quick ? 0.25 : 0.5;
  const suites = ['bridge', 'route+vxlan encap'];
  const samples: TraceCostSample[] = [];
  const total = rounds * suites.length * 2;
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    for (const suite of suites) {
      // alternate which build goes first, so a drifting machine favours neither
      const order: Build[] = r % 2 === 0 ? ['release', 'notrace'] : ['notrace', 'release'];
      for (const build of order) {
        const m = await measure(suite, build, maxTime);
        samples.push({ suite, build, round: r, ...m });
        done++;
        log(`[${done}/${total}] trace cost: ${suite.padEnd(18)} ${build === 'release' ? 'tracing off ' : 'no tracing  '} ${m.mpps.toFixed(2).padStart(7)} Mpps  ±${m.rme.toFixed(1)}%`);
      }
    }
  }
  const stat = (suite: string, build: Build) => {
    const xs = samples.filter((s) => s.suite === suite && s.build === build).map((s) => s.mpps);
    return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  };
  const summary = suites.map((suite) => {
    const release = stat(suite, 'release');
    const notrace = stat(suite, 'notrace');
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a = samples.find((s) => s.suite === suite && s.build === 'release' && s.round === r)!;
      const b = samples.find((s) => s.suite === suite && s.build === 'notrace' && s.round === r)!;
      ratios.push(a.mpps / b.mpps);
    }
    const ratioMin = Math.min(...ratios);
    const ratioMax = Math.max(...ratios);
    return { suite, release, notrace, ratio: median(ratios), ratioMin, ratioMax, withinNoise: ratioMin <= 1 && ratioMax >= 1 };
  });
  return { samples, summary };
}
