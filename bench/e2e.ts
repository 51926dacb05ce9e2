// End-to-end: iperf3 TCP between two pods through podwire, beside the Linux
// kernel's veth+bridge and a minimal C TAP forwarder, interleaved in one run
// (the machine is noisy: only ratios measured together mean anything).
// What runs is planned in bench/plan.ts: one MTU and one offload setting per
// comparison, podwire first in odd rounds and the kernel first in even ones.
// Also: how long `up` takes to reach ready for a 10-pod lab.
import { iperf, runKernelBridge, runCForwarder, podMtu, type IperfResult } from './baseline.ts';
import { offloadsOff } from './probes.ts';
import { Lab } from '../src/lab/lab.ts';
import { e2eCases, e2eSingleNodePlan, e2eCrossNodePlan, roundOrder, describeOffloads, type E2eCase } from './plan.ts';

export interface E2eSample {
  case: string; comparison: string; contender: E2eCase['contender'];
  round: number;
  /** 1-based position of this case in its round */
  order: number;
  gbps: number; retransmits: number;
  /** the client pod's eth0 MTU while it ran */
  podMtu?: number;
  /** offloads off: ethtool features off, devices changed, refusals */
  offloadsOff?: { features: string[]; changed: string[]; failed: string[] };
}
export interface E2eReport {
  /** per case: its comparison, MTU and offloads as planned */
  cases: { name: string; comparison: string; contender: E2eCase['contender']; mtu: number; offloads: string }[];
  /** per round, the order the cases ran in */
  rounds: { round: number; order: string[] }[];
  samples: E2eSample[];
  summary: { case: string; median: number; min: number; max: number; n: number }[];
  ratios: Record<string, number>;
  upToReadyMs: number[];
}

async function runPodwire(c: E2eCase, seconds: number): Promise<IperfResult> {
  const plan = e2eSingleNodePlan('bench', ['bench-a', 'bench-b'], c.offloads.mode === 'on', c.mtu);
  const lab = await Lab.up(plan);
  try {
    const [a, b] = plan.nodes[0].pods;
    const off = c.offloads.mode === 'off' ? await offloadsOff(lab.state.namespaces, c.offloads.ethtoolOff) : undefined;
    const mtu = await podMtu(a.namespace);
    return { ...(await iperf(a.namespace, b.namespace, b.ip, seconds)), podMtu: mtu, ...(off ? { offloadsOff: off } : {}) };
  } finally {
    await lab.down();
  }
}

async function runCrossNode(c: E2eCase, seconds: number): Promise<IperfResult> {
  const plan = e2eCrossNodePlan({ overlay: c.overlay!, contender: c.contender, underlay: c.underlay });
  const lab = await Lab.up(plan);
  try {
    const a = plan.nodes[0].pods[0];
    const b = plan.nodes[1].pods[0];
    const mtu = await podMtu(a.namespace);
    return { ...(await iperf(a.namespace, b.namespace, b.ip, seconds)), podMtu: mtu };
  } finally {
    await lab.down();
  }
}

function runCase(c: E2eCase, seconds: number): Promise<IperfResult> {
  if (c.overlay) return runCrossNode(c, seconds);
  const offloads = c.offloads.mode === 'on';
  if (c.contender === 'kernel') return runKernelBridge(seconds, { mtu: c.mtu, offloads });
  if (c.contender === 'c-forwarder') return runCForwarder(seconds, { mtu: c.mtu, offloads });
  return runPodwire(c, seconds);
}

async function timeUp(pods: number): Promise<number> {
  const plan = e2eSingleNodePlan('benchup', Array.from({ length: pods }, (_, i) => `bench-up-${i}`), true);
  const t0 = performance.now();
  const lab = await Lab.up(plan);
  const ms = performance.now() - t0;
  await lab.down();
  return ms;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

export async function runE2e(opts: { seconds?: number; repeat?: number; offloadOff?: boolean; overlays?: boolean; log?: (s: string) => void } = {}): Promise<E2eReport> {
  const seconds = opts.seconds ?? 5;
  const repeat = opts.repeat ?? 3;
  const log = opts.log ?? console.log;
  const cases = e2eCases({ offloadOff: opts.offloadOff, overlays: opts.overlays });
  const comparisons = [...new Set(cases.map((c) => c.comparison))];
  for (const cmp of comparisons) {
    log(`${cmp}:`);
    for (const c of cases.filter((x) => x.comparison === cmp)) log(`  ${c.name}: pod MTU ${c.mtu}, ${describeOffloads(c.contender, c.offloads)}`);
  }
  const samples: E2eSample[] = [];
  const rounds: E2eReport['rounds'] = [];
  for (let r = 1; r <= repeat; r++) {
    const order = roundOrder(cases, r);
    rounds.push({ round: r, order: order.map((c) => c.name) });
    for (const [i, c] of order.entries()) {
      log(`[${r}/${repeat}] [${i + 1}/${order.length}] ${c.name}: iperf3 -t ${seconds}, MTU ${c.mtu}, offloads ${c.offloads.mode} ...`);
      const res = await runCase(c, seconds);
      // a contender at another MTU than planned would make the comparison meaningless
      if (res.podMtu !== undefined && res.podMtu !== c.mtu) throw new Error(`${c.name}: pod MTU ${res.podMtu}, planned ${c.mtu}`);
      samples.push({
        case: c.name, comparison: c.comparison, contender: c.contender, round: r, order: i + 1,
        gbps: res.gbps, retransmits: res.retransmits, podMtu: res.podMtu, ...(res.offloadsOff ? { offloadsOff: res.offloadsOff } : {}),
      });
      const refused = res.offloadsOff?.failed.length ? `; ethtool refused ${res.offloadsOff.failed.length} device(s), e.g. ${res.offloadsOff.failed[0]}` : '';
      log(`    ${res.gbps.toFixed(2)} Gbit/s (${res.retransmits} retransmits)${refused}`);
    }
  }
  const summary = cases.map((c) => {
    const xs = samples.filter((s) => s.case === c.name).map((s) => s.gbps);
    return { case: c.name, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
  });
  // podwire / each other contender of its comparison (medians)
  const ratios: Record<string, number> = {};
  const med = (n: string) => summary.find((s) => s.case === n)!.median;
  for (const cmp of comparisons) {
    const mine = cases.filter((c) => c.comparison === cmp);
    for (const pw of mine.filter((c) => c.contender === 'podwire')) {
      for (const o of mine.filter((c) => c.contender !== 'podwire')) ratios[`${pw.name} / ${o.name} (${cmp})`] = med(pw.name) / med(o.name);
    }
  }
  const upToReadyMs: number[] = [];
  for (let r = 0; r < repeat; r++) upToReadyMs.push(await timeUp(10));
  return {
    cases: cases.map((c) => ({ name: c.name, comparison: c.comparison, contender: c.contender, mtu: c.mtu, offloads: describeOffloads(c.contender, c.offloads) })),
    rounds, samples, summary, ratios, upToReadyMs,
  };
}
