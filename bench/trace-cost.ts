// What decision tracing costs when it is off: the release build (every
// trace point present, tracing switched off: one load and a branch not
// taken each) against the "notrace" build (the same source compiled with
// --use TRACE_BUILD=0: no trace point at all), on the bridge and on route +
// VXLAN encapsulation, 64-byte frames, batch 256. Rounds alternate the
// builds so drift on a noisy machine hits both alike; the verdict compares
// the difference of the medians with the spread between rounds.
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
  /** release / notrace medians */
  ratio: number;
  /** the difference of the medians is smaller than either build's own round-to-round spread */
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
  const rounds = opts.rounds ?? (opts.quick ? 2 : 6);
  const maxTime = opts.quick ? 0.25 : 1;
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
    const spread = Math.max(release.max - release.min, notrace.max - notrace.min);
    return { suite, release, notrace, ratio: release.median / notrace.median, withinNoise: Math.abs(release.median - notrace.median) <= spread };
  });
  return { samples, summary };
}
