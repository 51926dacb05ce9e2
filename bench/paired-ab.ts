// Two trees' hot paths in ONE process, timed in alternating short rounds:
// load from other jobs on the machine hits both builds alike, so the ratio
// holds where separate runs swing by more than the difference sought.
//   npx tsx bench/paired-ab.ts TREE_A TREE_B [rounds]
// Each tree must be built (build/release.wasm, and for recent trees the
// generated src/dataplane/layout.ts); each case uses that tree's own bench
// setup (bench/hotpath.ts, bench/overlay-hotpath.ts) and its own wasm. The
// B/A line is B's time per frame over A's: above 1, B is slower. Repeat
// the same two trees to see the harness's own spread (a few percent).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

interface Case { name: string; frames: number; run: () => void }

async function casesOf(tree: string): Promise<Case[]> {
  const hp = await import(resolve(tree, 'bench/hotpath.ts'));
  const ov = await import(resolve(tree, 'bench/overlay-hotpath.ts'));
  const out: Case[] = [];
  for (const bytes of [64, 1500]) {
    const ex = hp.prepare(bytes, 256, 2048 + 256).ex;
    out.push({ name: `bridge ${bytes}B`, frames: 256, run: () => { ex.txClear(); ex.processBatch(0, 256); } });
  }
  for (const kind of ['vxlan', 'ipip', 'host-gw'] as const) {
    const batch = 256;
    const { n1, n2, inLen, outLen } = ov.prepare(kind, 64, batch);
    const e1 = n1.ex, e2 = n2.ex;
    const tpl1 = n1.readOffset(batch), tpl2 = n2.readOffset(batch);
    const stride = n1.slotSize;
    out.push({ name: `${kind} out 64B`, frames: batch, run: () => { e1.benchRestore(0, batch, tpl1, stride, inLen); e1.txClear(); e1.processBatch(0, batch); } });
    out.push({ name: `${kind} in 64B`, frames: batch, run: () => { e2.benchRestore(0, batch, tpl2, stride, outLen); e2.txClear(); e2.processBatch(0, batch); } });
  }
  return out;
}

/** ns per frame over `iters` calls */
function time(c: Case, iters: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) c.run();
  return Number(process.hrtime.bigint() - t0) / (iters * c.frames);
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const quantile = (xs: number[], p: number) => { const s = sorted(xs); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };

async function main(): Promise<void> {
  const [treeA, treeB, roundsArg] = process.argv.slice(2);
  if (!treeA || !treeB) throw new Error('usage: npx tsx bench/paired-ab.ts TREE_A TREE_B [rounds]');
  const rounds = Number(roundsArg ?? 40);
  const A = await casesOf(treeA);
  const B = await casesOf(treeB);
  console.log(`A=${treeA} B=${treeB} rounds=${rounds} loadavg=${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  for (let k = 0; k < A.length; k++) {
    const a = A[k], b = B[k];
    for (let i = 0; i < 200; i++) { a.run(); b.run(); } // both JIT-compiled before timing
    const iters = Math.max(20, Math.round(10e6 / (time(a, 200) * a.frames))); // ~10 ms a round
    const ta: number[] = [], tb: number[] = [], ratio: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // alternate which goes first, so neither always runs on a warmer cache
      const [x, y] = r % 2 === 0 ? [time(a, iters), time(b, iters)] : ((): [number, number] => { const yy = time(b, iters); return [time(a, iters), yy]; })();
      ta.push(x); tb.push(y); ratio.push(y / x);
    }
    console.log(`${a.name.padEnd(16)} A ${quantile(ta, 0.5).toFixed(2)} ns  B ${quantile(tb, 0.5).toFixed(2)} ns  B/A ${quantile(ratio, 0.5).toFixed(3)} [${quantile(ratio, 0.25).toFixed(3)}-${quantile(ratio, 0.75).toFixed(3)}]`);
  }
}

main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
