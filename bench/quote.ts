// The figures docs/benchmarks.md and bench/RESULTS.md quote, printed from the JSON the
// benchmarks wrote: every figure is the median of the latest run in the data
// directory that measured it, with its min–max range, the number of runs,
// the file, and the machine and date. Nothing here is typed in by hand.
//
//   npx tsx bench/quote.ts [DIR]            print the markdown (DIR: bench/data)
//   npx tsx bench/quote.ts [DIR] --write    also replace the generated blocks
//                                           in docs/benchmarks.md and bench/RESULTS.md
//
// Old JSON (before the like-for-like harness: no `cases` / `rounds`) is
// quoted with what was unlike about it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PATHS } from './overlay-cases.ts';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Machine { cpu: string; cores: number; kernel: string; node: string; podwire?: string; date: string }
export interface DataFile { file: string; machine: Machine; data: Record<string, any> }
interface Range { median: number; min: number; max: number; n: number }

export function loadData(dir: string): DataFile[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => {
    const data = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    return { file: basename(f), machine: data.machine as Machine, data };
  }).filter((d) => d.machine?.date).sort((a, b) => b.machine.date.localeCompare(a.machine.date)); // newest first
}

const sig = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
export function fmtRange(r: Range): string {
  return r.n > 1 && r.max > r.min ? `${sig(r.median)} (${sig(r.min)}–${sig(r.max)}, ${r.n} runs)` : `${sig(r.median)} (${r.n} run${r.n > 1 ? 's' : ''})`;
}
function rangeOf(xs: number[]): Range {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], n: s.length };
}
export function machineLine(m: Machine): string {
  return `${m.cores}-core VM (${m.cpu}), Linux ${m.kernel}, Node ${m.node}, ${m.date.slice(0, 10)}`;
}

/** The newest file for which `has` holds. */
const latest = (files: DataFile[], has: (d: Record<string, any>) => boolean) => files.find((f) => has(f.data));

interface Row { what: string; value: string; compared: string; file: DataFile; command: string }

function hotpathRows(files: DataFile[]): Row[] {
  // a full hot-path run: every suite, and the targets it checked
  const f = latest(files, (d) => Array.isArray(d.targets) && d.results && d.overlay && d.service && d.trace);
  if (!f) return [];
  const rows: Row[] = [];
  // benchmark.js keeps no per-sample list: its relative margin of error is the spread there is
  const all: Record<string, any>[] = [...(f.data.results ?? []), ...(f.data.overlay ?? []), ...(f.data.service ?? [])];
  for (const t of f.data.targets as { name: string; measured: number; target: number; unit: string; cmp: string; met: boolean; note?: string }[]) {
    if (/ policies /.test(t.name)) continue; // policyRows quotes the NetworkPolicy suite
    const src = all.find((e) => Object.values(e).includes(t.measured) && typeof e.rme === 'number');
    const spread = src ? ` ±${src.rme.toFixed(1)} % (benchmark.js mean, ${src.samples ? `${src.samples} samples, ` : ''}95 % margin)` : t.note?.includes('range') ? ` (${t.note})` : '';
    rows.push({
      what: `${t.name}${/one core/.test(t.name) ? '' : ', one core'}, in memory`,
      value: `${sig(t.measured)} ${t.unit}${spread}`,
      compared: `target ${t.cmp} ${t.target} ${t.unit}: ${t.met ? 'met' : 'NOT met'}`,
      file: f,
      command: `npx podwire bench hotpath${/DNAT|connection/.test(t.name) ? ' --suites service' : /tracing/.test(t.name) ? ' --suites trace' : ''}`,
    });
  }
  return rows;
}

/** What was unlike in an e2e run made before bench/plan.ts (no `cases` in the JSON). */
const OLD_E2E = {
  same: 'old harness: podwire pods at MTU 1450, the kernel and C at 1500; the same order every round',
  off: 'old harness: podwire pods at MTU 1450, C at 1500; no kernel case; offloads off = TAPs without offloads only; the same order every round',
  cross: 'old harness: the same order every round',
};

function e2eRows(files: DataFile[]): Row[] {
  const rows: Row[] = [];
  const summaryOf = (d: Record<string, any>, name: string): Range | undefined => (d.summary as { case: string }[] | undefined)?.find((s) => s.case === name) as Range | undefined;
  const caseIn = (name: string) => latest(files, (d) => Array.isArray(d.upToReadyMs) && !!summaryOf(d, name));
  const add = (what: string, pw: string, others: { name: string; label: string }[], command: string, old: keyof typeof OLD_E2E) => {
    const f = caseIn(pw);
    if (!f) return;
    const p = summaryOf(f.data, pw)!;
    const cmp = others.map((o) => {
      const s = summaryOf(f.data, o.name);
      return s ? `${(p.median / s.median).toFixed(2)} × ${o.label} (${sig(s.median)})` : undefined;
    }).filter(Boolean).join(', ');
    rows.push({ what, value: `${fmtRange(p)} Gbit/s`, compared: `${cmp}${f.data.cases ? '' : `; ${OLD_E2E[old]}`}`, file: f, command });
  };
  const cf1450 = (f?: DataFile) => (f?.data.cases as { name: string }[] | undefined)?.find((c) => c.name.startsWith('C TAP forwarder (vnet hdr, TSO), MTU '))?.name;
  add('iperf3 TCP pod to pod, one node, through podwire (TSO super-frames)', 'podwire (vnet hdr, TSO)',
    [{ name: 'C TAP forwarder (vnet hdr, TSO)', label: 'a minimal C TAP forwarder' }, { name: 'kernel veth+bridge', label: "the kernel's veth+bridge" }], 'sudo npx podwire bench e2e', 'same');
  add('same, offloads off (MTU-sized frames)', 'podwire (no offloads)',
    [{ name: 'C TAP forwarder (no offloads)', label: 'the C forwarder' }, { name: 'kernel veth+bridge (no offloads)', label: 'the kernel' }], 'sudo npx podwire bench e2e --offload-off', 'off');
  const vx = caseIn('cross-node podwire VXLAN');
  add('iperf3 TCP across two podwire nodes, VXLAN', 'cross-node podwire VXLAN',
    [{ name: 'cross-node kernel VXLAN (flannel-style nodes)', label: "the kernel's VXLAN" }, ...(cf1450(vx) ? [{ name: cf1450(vx)!, label: 'the C forwarder at the same MTU' }] : [])], 'sudo npx podwire bench e2e --overlays', 'cross');
  const up = latest(files, (d) => Array.isArray(d.upToReadyMs) && d.upToReadyMs.length > 0);
  if (up) rows.push({ what: '`podwire up` to `ready`, 10 pods', value: `${fmtRange(rangeOf(up.data.upToReadyMs.map((m: number) => m / 1000)))} s`, compared: 'target < 2 s', file: up, command: 'sudo npx podwire bench e2e' });
  return rows;
}

/** What was unlike in an overlay run made before bench/plan.ts (no `rounds` in the JSON). */
const OLD_OVERLAY = {
  tcpGbps: 'old harness: podwire first in every round',
  tcpOffGbps: "old harness: podwire first in every round; offloads off left the kernel's tx checksum offload on",
};

function overlayRows(files: DataFile[]): Row[] {
  // per path, the latest run that measured it: a run of a few --cases does not hide the others' figures
  const runs = files.filter((f) => Array.isArray(f.data.summary) && f.data.options?.paths && Array.isArray(f.data.ratios));
  const rows: Row[] = [];
  for (const path of PATHS) {
    // cross-host: the default path's figures (a PODWIRE_HOST_UNDERLAY=socket run is a comparison, in RESULTS.md)
    const f = runs.find((r) => (r.data.options.paths as string[]).includes(path) && !(path === 'cross-host' && r.data.options.crossHostUnderlay === 'socket'));
    if (!f) continue;
    const get = (dp: string, m: string): Range | undefined => f.data.summary.find((s: any) => s.path === path && s.dataplane === dp)?.metrics?.[m];
    const mtu = f.data.paths?.find((x: any) => x.path === path)?.arithmetic?.podMtu;
    for (const [m, label, unit] of [['tcpGbps', 'TCP, offloads on', 'Gbit/s'], ['tcpOffGbps', 'TCP, offloads off', 'Gbit/s']] as const) {
      const pw = get('podwire', m), k = get('kernel', m);
      if (!pw) continue;
      rows.push({
        what: `bench overlay ${path}, ${label}${mtu ? `, pod MTU ${mtu}` : ''}`,
        value: `${fmtRange(pw)} ${unit}`,
        compared: (k ? `${(pw.median / k.median).toFixed(2)} × the kernel (${fmtRange(k)})` : "no kernel case (see the run's notes)") + (f.data.rounds ? '' : `; ${OLD_OVERLAY[m]}`),
        file: f,
        command: 'sudo npx podwire bench overlay',
      });
    }
  }
  return rows;
}

/** The NetworkPolicy suite (bench/policy-hotpath.ts): per count, the rounds' median and range; the goals as per-round ratios; the update time. */
function policyRows(files: DataFile[]): Row[] {
  const f = latest(files, (d) => Array.isArray(d.policy?.results) && d.policy.results.length > 0);
  if (!f) return [];
  const p = f.data.policy as { results: { suite: string; policies: number; round: number; nsPerPacket: number }[]; update: { pods: number; policies: number; compileMs: number[]; syncMs: number[]; allows: number }[] };
  const command = 'npx podwire bench hotpath --suites policy';
  const rows: Row[] = [];
  const ratio = (suite: string, a: number, b: number) => {
    const xs = p.results.filter((r) => r.suite === suite && r.policies === a).flatMap((x) => {
      const y = p.results.find((r) => r.suite === suite && r.policies === b && r.round === x.round);
      return y ? [x.nsPerPacket / y.nsPerPacket] : [];
    });
    return xs.length ? rangeOf(xs) : undefined;
  };
  for (const suite of ['established', 'new-conn']) {
    // the rounds, for none and the most policies (between them: RESULTS.md); the paired ratios below are the comparison
    const counts = [...new Set(p.results.filter((r) => r.suite === suite).map((r) => r.policies))].sort((a, b) => a - b);
    for (const n of counts.filter((x, i) => i === 0 || i === counts.length - 1)) {
      const ns = rangeOf(p.results.filter((r) => r.suite === suite && r.policies === n).map((r) => r.nsPerPacket));
      const vs = n === 0 ? undefined : ratio(suite, n, suite === 'new-conn' && n > 10 ? 10 : 0);
      const goal = suite === 'established' ? 'goal within 1.1 x of none' : 'goal flat (within 1.1 x) from 10 policies';
      rows.push({
        what: `NetworkPolicy, ${suite === 'established' ? 'established Service flow' : 'new Service connection (SYN)'}, ${n} policies, 64 B, one core, in memory`,
        value: `${fmtRange(ns)} ns/packet`,
        compared: vs ? `${fmtRange(vs)} x ${suite === 'new-conn' && n > 10 ? '10 policies' : 'no policies'} per round (${goal})` : 'baseline',
        file: f, command,
      });
    }
  }
  for (const x of (f.data.policy.paired ?? []) as { suite: string; policies: number; versus: number; pairs: number; ratio: number; ratioP25: number; ratioP75: number; nsPerPacket: number; versusNsPerPacket: number }[]) {
    rows.push({
      what: `NetworkPolicy, ${x.suite === 'established' ? 'established' : 'new connections'}, ${x.policies} vs ${x.versus === 0 ? 'no' : x.versus} policies, alternated batches (paired), one core, in memory`,
      value: `${sig(x.ratio)} x (middle half ${sig(x.ratioP25)}–${sig(x.ratioP75)}, ${x.pairs} pairs); ${sig(x.nsPerPacket)} vs ${sig(x.versusNsPerPacket)} ns/packet`,
      compared: `goal <= 1.1 x: ${x.ratio <= 1.1 ? 'met' : 'NOT met'}`,
      file: f, command,
    });
  }
  for (const u of p.update ?? []) {
    rows.push({ what: `NetworkPolicy update for one node, ${u.pods} pods, ${u.policies} policies: compile + program the tables`,
      value: `${fmtRange(rangeOf(u.compileMs))} + ${fmtRange(rangeOf(u.syncMs))} ms`, compared: `${u.allows} allow entries`, file: f, command });
  }
  return rows;
}

export function quoteRows(files: DataFile[]): Row[] {
  return [...hotpathRows(files), ...e2eRows(files), ...overlayRows(files), ...policyRows(files)];
}

/** The markdown block: one table, then the runs it comes from (file, machine, date). */
export function quoteMarkdown(files: DataFile[]): string {
  const rows = quoteRows(files);
  const used = [...new Set(rows.map((r) => r.file))];
  const ref = (f: DataFile) => `[${used.indexOf(f) + 1}]`;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    'Medians of the latest run in `bench/data` that measured each figure, with (min–max, runs); the hot path: the benchmark.js mean and its margin (it keeps no per-sample list). Generated by `npx tsx bench/quote.ts`.',
    '',
    '| | measured | compared | run | command |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${esc(r.what)} | ${esc(r.value)} | ${esc(r.compared)} | ${ref(r.file)} | \`${r.command}\` |`),
    '',
    ...used.map((f) => `${ref(f)} \`bench/data/${f.file}\`: ${machineLine(f.machine)}`),
  ].join('\n');
}

export const BEGIN = '<!-- quote.ts: begin (generated from bench/data by `npx tsx bench/quote.ts --write`; do not edit by hand) -->';
export const END = '<!-- quote.ts: end -->';

/** Replace the text between the markers; an error when a file has none. */
export function replaceBlock(text: string, block: string, what: string): string {
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${what}: no generated block (${BEGIN} ... ${END})`);
  return `${text.slice(0, a + BEGIN.length)}\n${block}\n${text.slice(b)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const root = fileURLToPath(new URL('../', import.meta.url));
  const dir = args.find((a) => !a.startsWith('--')) ?? join(root, 'bench', 'data');
  const md = quoteMarkdown(loadData(dir));
  console.log(md);
  if (args.includes('--write')) {
    // both files checked before either is written
    const out = [join(root, 'docs', 'benchmarks.md'), join(root, 'bench', 'RESULTS.md')].map((f) => [f, replaceBlock(readFileSync(f, 'utf8'), md, f)]);
    for (const [f, text] of out) {
      writeFileSync(f, text);
      console.error(`wrote ${f}`);
    }
  }
}
