// NetworkPolicy hot-path suites (benchmark.js), in memory, one core: the
// Service rig of service-hotpath.ts (client pods sending to ClusterIPs,
// backends on the node's own bridge), with 0, 10, 100 and 10,000 policies of
// a realistic mix (bench/policy-cluster.ts) programmed into the node, in a
// cluster of 10,000 pods:
//  - established: TCP ACKs of 10,000 flows already in conntrack: what the
//    policy stage adds to a packet of an allowed, tracked connection;
//  - new connections: SYNs, each a new tuple: Service DNAT, then the policy
//    verdict (ingress of the backend and, from 10 policies on, egress of the
//    client: both are isolated);
//  - update: compiling the policies for the node (model) and programming its
//    tables (data plane), for the 10,000-pod cluster.
// A node per policy count, measured in interleaved rounds, the order reversed
// every other round (drift on a shared machine hits every count alike); each
// figure is the median of the rounds, with their range, and each comparison
// the median of per-round ratios (both measured within seconds of each other). Every timed frame is checked as the Service suites do
// (translated, none dropped: every SYN was allowed).
//   npx podwire bench hotpath --suites policy [--quick]
import { ServiceRig, verify } from './service-hotpath.ts';
import { timeIt } from './bjs.ts';
import { summarize, median, type Summary } from './stats.ts';
import { policyPods, policyNamespaces, policySet } from './policy-cluster.ts';
import { compilePolicies } from '../src/model/network-policy-compile.ts';
import { programPolicies } from '../src/dataplane/policy-sync.ts';

export interface PolicyHotpathResult {
  suite: 'established' | 'new-conn';
  policies: number;
  round: number;
  /** with the input restore */
  mpps: number;
  nsPerPacket: number;
  /** with the restore measured alone removed */
  netNsPerPacket: number;
  rme: number;
  samples: number;
  framesChecked: number;
}

export interface PolicyUpdateResult {
  pods: number;
  policies: number;
  /** per repeat, ms */
  compileMs: number[];
  syncMs: number[];
  allows: number;
  ranges: number;
  classes: number;
  addresses: number;
}

export interface PolicyProgramSize { policies: number; allows: number; ranges: number; classes: number; addresses: number; isolatedPods: number }

/**
 * Two nodes' batches alternated one by one (A, B, A, B...), each batch timed
 * alone: drift and other jobs' bursts hit both sides of a pair alike, so the
 * median of per-pair ratios holds on a machine too busy for separate runs.
 */
export interface PolicyPairedResult {
  suite: 'established' | 'new-conn';
  /** policies on node A (measured) and node B (its reference) */
  policies: number;
  versus: number;
  pairs: number;
  /** median ns per packet over the pairs' batches (input restore included) */
  nsPerPacket: number;
  versusNsPerPacket: number;
  /** per-pair ratio A / B: median, and the middle half's range (25th-75th percentile) */
  ratio: number;
  ratioP25: number;
  ratioP75: number;
}

export interface PolicyHotpathData { results: PolicyHotpathResult[]; update: PolicyUpdateResult[]; programs: PolicyProgramSize[]; paired?: PolicyPairedResult[] }

export interface PolicyRunOptions {
  quick?: boolean;
  log?: (s: string) => void;
  /** policy counts (default 0, 10, 100, 10,000) */
  policyCounts?: number[];
  /** pods in the cluster (default 10,000) */
  pods?: number;
  rounds?: number;
  maxTime?: number;
  /** established flows (default 10,000) */
  flows?: number;
  /** rig sizes (smoke test: small) */
  templates?: number;
  /** update-time repeats (default 5, --quick 3) */
  updateRepeats?: number;
  /** benchmark.js minTime (s): a new-connection cycle makes about minTime x rate SYNs, which the pool must hold */
  minTime?: number;
  /** alternated batch pairs per comparison (default 4000, --quick 1500) */
  pairs?: number;
}

const SERVICES = 10;
/** room for the 10,000-policy set: ~244k allow entries, ~500k port ranges (see the run's log) */
const POLICY_CAPACITY = 1 << 18;

export async function runPolicyHotpath(opts: PolicyRunOptions = {}): Promise<PolicyHotpathData> {
  const log = opts.log ?? console.log;
  const counts = opts.policyCounts ?? [0, 10, 100, 10_000];
  const totalPods = opts.pods ?? 10_000;
  const rounds = opts.rounds ?? (opts.quick ? 3 : 7);
  const maxTime = opts.maxTime ?? (opts.quick ? 0.15 : 0.3);
  const flows = opts.flows ?? 10_000;
  const templates = opts.templates ?? 1 << 18;
  const t0 = performance.now();
  const pods = policyPods(totalPods);
  const ns = policyNamespaces();

  // one node per policy count, programmed once
  const programs: PolicyProgramSize[] = [];
  const rigs = counts.map((n) => {
    const rig = new ServiceRig({ ctCapacity: templates + flows, templates, policyCapacity: POLICY_CAPACITY });
    rig.setServices(SERVICES);
    const c = compilePolicies('n1', pods, ns, policySet(n));
    const p = programPolicies(rig.dp, c);
    programs.push({ policies: n, allows: p.allows, ranges: p.ranges, classes: p.classes, addresses: p.addresses, isolatedPods: c.pods.length });
    log(`policy: node with ${n} policies: ${c.pods.length} isolated pods of its ${pods.filter((x) => x.node === 'n1').length}, ${p.addresses} addresses, ${p.classes} prefix classes, ${p.allows} allow entries, ${p.ranges} port ranges`);
    return rig;
  });

  const results: PolicyHotpathResult[] = [];
  const total = rounds * counts.length * 2;
  const record = (suite: PolicyHotpathResult['suite'], policies: number, round: number, t: { hz: number; rme: number; samples: number }, r: { hz: number }, frames: number) => {
    const B = 256;
    const mpps = (t.hz * B) / 1e6;
    const restoreMpps = (r.hz * B) / 1e6;
    const res: PolicyHotpathResult = { suite, policies, round, mpps, nsPerPacket: 1000 / mpps, netNsPerPacket: 1000 / mpps - 1000 / restoreMpps, rme: t.rme, samples: t.samples, framesChecked: frames };
    results.push(res);
    log(`[${results.length}/${total}] round ${round} ${suite === 'established' ? 'established    ' : 'new connections'} ${String(policies).padStart(5)} policies  ` +
      `${mpps.toFixed(2).padStart(6)} Mpps ${res.nsPerPacket.toFixed(1).padStart(6)} ns/pkt (net ${res.netNsPerPacket.toFixed(1)} ns)  ±${t.rme.toFixed(1)}%  ${frames} frames checked`);
  };

  for (let round = 1; round <= rounds; round++) {
    const order = [...counts.keys()];
    if (round % 2 === 0) order.reverse();
    for (const k of order) {
      const n = counts[k];
      const rig = rigs[k];
      const ex = rig.ex;
      // established: ACKs of `flows` tracked flows
      rig.ctReset();
      rig.prefillEstablished(flows, SERVICES);
      rig.loadEstablished(flows, SERVICES, 64);
      rig.useBatch(256);
      let bad = rig.checkBatch();
      if (bad.length) throw new Error(`established, ${n} policies: ${bad.slice(0, 3).join('; ')}`);
      rig.rewind();
      let calls = 0;
      let before = rig.dp.counters();
      const mt = { minTime: opts.minTime };
      let t = await timeIt('established', () => { rig.restore(); ex.txClear(); ex.processBatch(0, 256); calls++; }, maxTime, mt);
      verify('established', before, rig.dp.counters(), calls * 256, `established, ${n} policies`);
      let r = await timeIt('restore', () => { rig.restore(); }, maxTime / 2, mt);
      record('established', n, round, t, r, calls * 256);

      // new connections: SYNs, conntrack emptied after every cycle
      rig.ctReset();
      rig.loadSyns(SERVICES);
      rig.useBatch(256);
      bad = rig.checkBatch();
      if (bad.length) throw new Error(`new connections, ${n} policies: ${bad.slice(0, 3).join('; ')}`);
      rig.ctReset();
      rig.rewind();
      calls = 0;
      let wraps = 0;
      before = rig.dp.counters();
      t = await timeIt('new-conn', () => { if (!rig.restore()) wraps++; ex.txClear(); ex.processBatch(0, 256); calls++; }, maxTime, {
        ...mt, onCycle: () => { rig.ctReset(); rig.rewind(); },
      });
      if (wraps) throw new Error(`new connections: a cycle used more than the ${rig.tplCount} distinct SYNs: enlarge the pool`);
      verify('new-conn', before, rig.dp.counters(), calls * 256, `new connections, ${n} policies`);
      rig.ctReset();
      r = await timeIt('restore', () => { rig.restore(); }, maxTime / 2, mt);
      record('new-conn', n, round, t, r, calls * 256);
    }
  }

  // paired: each count against its reference, batch by batch
  const paired: PolicyPairedResult[] = [];
  const pairs = opts.pairs ?? (opts.quick ? 1500 : 4000);
  for (const suite of ['established', 'new-conn'] as const) {
    const ref = suite === 'established' ? 0 : 10;
    const bk = counts.indexOf(ref);
    if (bk < 0) continue;
    for (const [k, n] of counts.entries()) {
      if (n <= ref) continue;
      const p = alternate(rigs[k], rigs[bk], suite, pairs, flows);
      paired.push({ suite, policies: n, versus: ref, ...p });
      log(`paired ${suite === 'established' ? 'established    ' : 'new connections'} ${String(n).padStart(5)} vs ${String(ref).padStart(2)} policies: ` +
        `${p.nsPerPacket.toFixed(1)} vs ${p.versusNsPerPacket.toFixed(1)} ns/pkt, per-pair ratio ${p.ratio.toFixed(3)} (middle half ${p.ratioP25.toFixed(3)}-${p.ratioP75.toFixed(3)}, ${p.pairs} pairs)`);
    }
  }

  // update time: compile for the node + program its tables, 10,000 pods
  const update: PolicyUpdateResult[] = [];
  const repeats = opts.updateRepeats ?? (opts.quick ? 3 : 5);
  const rig = rigs[rigs.length - 1];
  for (const n of counts.filter((x) => x > 0)) {
    const specs = policySet(n);
    const u: PolicyUpdateResult = { pods: totalPods, policies: n, compileMs: [], syncMs: [], allows: 0, ranges: 0, classes: 0, addresses: 0 };
    for (let i = 0; i < repeats; i++) {
      const a = performance.now();
      const c = compilePolicies('n1', pods, ns, specs);
      const b = performance.now();
      const p = programPolicies(rig.dp, c);
      const e = performance.now();
      u.compileMs.push(b - a);
      u.syncMs.push(e - b);
      Object.assign(u, { allows: p.allows, ranges: p.ranges, classes: p.classes, addresses: p.addresses });
    }
    update.push(u);
    const cs = summarize(u.compileMs)!, ss = summarize(u.syncMs)!;
    log(`policy update, ${totalPods} pods, ${n} policies: compile ${fmtRange(cs, 'ms')}, program ${fmtRange(ss, 'ms')} (${repeats} repeats; ${u.allows} allow entries, ${u.ranges} ranges)`);
  }
  log(`policy: ${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
  return { results, update, programs, paired };
}

/** Load both rigs for `suite` (ACKs of `flows` tracked flows, or SYNs), then time `pairs` alternated batches. */
function alternate(a: ServiceRig, b: ServiceRig, suite: PolicyPairedResult['suite'], pairs: number, flows: number) {
  for (const rig of [a, b]) {
    rig.ctReset();
    if (suite === 'established') { rig.prefillEstablished(flows, SERVICES); rig.loadEstablished(flows, SERVICES, 64); } else rig.loadSyns(SERVICES);
    rig.useBatch(256);
    const bad = rig.checkBatch();
    if (bad.length) throw new Error(`paired ${suite}: ${bad.slice(0, 3).join('; ')}`);
    if (suite === 'new-conn') rig.ctReset();
    rig.rewind();
  }
  const before = [a.dp.counters(), b.dp.counters()];
  const ta: number[] = [], tb: number[] = [], ratio: number[] = [];
  const one = (rig: ServiceRig): number => {
    // a new-connection pool that wrapped starts over from an empty table, outside the timing
    if (rig.position === 0 && suite === 'new-conn') rig.ctReset();
    const ex = rig.ex;
    const t0 = performance.now();
    rig.restore();
    ex.txClear();
    ex.processBatch(0, 256);
    return (performance.now() - t0) * 1e6 / 256;
  };
  for (let i = 0; i < pairs; i++) {
    // which side goes first alternates too
    const [x, y] = i % 2 === 0 ? [one(a), one(b)] : (() => { const yb = one(b); return [one(a), yb]; })();
    ta.push(x); tb.push(y); ratio.push(x / y);
  }
  verify(suite, before[0], a.dp.counters(), pairs * 256, `paired ${suite}, node A`);
  verify(suite, before[1], b.dp.counters(), pairs * 256, `paired ${suite}, node B`);
  for (const rig of [a, b]) rig.ctReset();
  const sorted = [...ratio].sort((p, q) => p - q);
  const at = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  return { pairs, nsPerPacket: median(ta), versusNsPerPacket: median(tb), ratio: median(ratio), ratioP25: at(0.25), ratioP75: at(0.75) };
}

function fmtRange(s: Summary, unit: string, digits = 0): string {
  return `${s.median.toFixed(digits)} ${unit} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

/** Per suite and policy count: the median and range of the rounds (ns per packet, with and net of the input restore). */
export function policySummary(d: PolicyHotpathData): { suite: string; policies: number; ns: Summary; net: Summary }[] {
  const out: { suite: string; policies: number; ns: Summary; net: Summary }[] = [];
  for (const suite of ['established', 'new-conn'] as const) {
    for (const n of [...new Set(d.results.map((r) => r.policies))].sort((a, b) => a - b)) {
      const rs = d.results.filter((r) => r.suite === suite && r.policies === n);
      if (!rs.length) continue;
      out.push({ suite, policies: n, ns: summarize(rs.map((r) => r.nsPerPacket))!, net: summarize(rs.map((r) => r.netNsPerPacket))! });
    }
  }
  return out;
}

/** Per round, the per-packet cost with `a` policies over the cost with `b` (same suite): their median and range. */
export function pairedRatio(d: PolicyHotpathData, suite: PolicyHotpathResult['suite'], a: number, b: number): Summary | undefined {
  const ratios: number[] = [];
  for (const x of d.results.filter((r) => r.suite === suite && r.policies === a)) {
    const y = d.results.find((r) => r.suite === suite && r.policies === b && r.round === x.round);
    if (y) ratios.push(x.nsPerPacket / y.nsPerPacket);
  }
  return summarize(ratios);
}

/**
 * The goals as checks, each the median of per-round ratios:
 * established with the most policies within 10 % of none; new connections
 * flat (within 10 %) from 10 policies to the most.
 */
export function policyTargetChecks(d: PolicyHotpathData): { name: string; measured: number; target: number; unit: string; cmp: '>=' | '<='; note?: string }[] {
  const counts = [...new Set(d.results.map((r) => r.policies))].sort((x, y) => x - y);
  const most = counts[counts.length - 1];
  const checks: ReturnType<typeof policyTargetChecks> = [];
  // the alternated batches first: the rounds' ratios only where they are missing
  for (const p of (d.paired ?? []).filter((x) => x.policies === most)) {
    checks.push({ name: `${p.suite === 'established' ? 'established' : 'new connections'}, ${most} vs ${p.versus === 0 ? 'no' : p.versus} policies (per-packet cost)`,
      measured: p.ratio, target: 1.1, unit: 'x', cmp: '<=',
      note: `median of ${p.pairs} per-pair ratios of alternated batches, middle half ${p.ratioP25.toFixed(2)}-${p.ratioP75.toFixed(2)}; ${p.nsPerPacket.toFixed(0)} vs ${p.versusNsPerPacket.toFixed(0)} ns` });
  }
  if (checks.length) return checks;
  const est = counts.includes(0) && most > 0 ? pairedRatio(d, 'established', most, 0) : undefined;
  if (est) {
    checks.push({ name: `established, ${most} policies vs none (per-packet cost)`, measured: est.median, target: 1.1, unit: 'x', cmp: '<=',
      note: `median of per-round ratios, range ${est.min.toFixed(2)}-${est.max.toFixed(2)}, ${est.n} rounds` });
  }
  const nc = counts.includes(10) && most > 10 ? pairedRatio(d, 'new-conn', most, 10) : undefined;
  if (nc) {
    checks.push({ name: `new connections, ${most} vs 10 policies (per-packet cost)`, measured: nc.median, target: 1.1, unit: 'x', cmp: '<=',
      note: `median of per-round ratios, range ${nc.min.toFixed(2)}-${nc.max.toFixed(2)}, ${nc.n} rounds` });
  }
  return checks;
}

/** Lines for the console and RESULTS.md: each figure as median (min-max) of the rounds. */
export function policyReport(d: PolicyHotpathData): string[] {
  const lines: string[] = [];
  const s = policySummary(d);
  for (const x of s) {
    const vs = x.policies === 0 ? undefined : pairedRatio(d, x.suite as PolicyHotpathResult['suite'], x.policies, 0);
    lines.push(`${x.suite === 'established' ? 'established    ' : 'new connections'} ${String(x.policies).padStart(5)} policies: ${fmtRange(x.ns, 'ns/pkt', 1)}, net of restore ${fmtRange(x.net, 'ns', 1)}` +
      (vs ? `; vs no policies, per round: ${fmtRange(vs, 'x', 3)}` : '') + ` (${x.ns.n} rounds)`);
  }
  for (const p of d.paired ?? []) {
    lines.push(`paired ${p.suite === 'established' ? 'established    ' : 'new connections'} ${String(p.policies).padStart(5)} vs ${p.versus} policies: ` +
      `per-pair ratio ${p.ratio.toFixed(3)} (middle half ${p.ratioP25.toFixed(3)}-${p.ratioP75.toFixed(3)}, ${p.pairs} alternated batches each), ${p.nsPerPacket.toFixed(1)} vs ${p.versusNsPerPacket.toFixed(1)} ns/pkt`);
  }
  for (const u of d.update) {
    const c = summarize(u.compileMs)!, p = summarize(u.syncMs)!;
    lines.push(`update, ${u.pods} pods, ${u.policies} policies: compile ${fmtRange(c, 'ms')}, program ${fmtRange(p, 'ms')} (${u.allows} allow entries)`);
  }
  return lines;
}
