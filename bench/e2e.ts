// End-to-end: iperf3 TCP between two pods through podwire, beside the Linux
// kernel's veth+bridge and a minimal C TAP forwarder, interleaved in one run
// (the machine is noisy: only ratios measured together mean anything).
// Also: how long `up` takes to reach ready for a 10-pod lab.
import { iperf, runKernelBridge, runCForwarder, type IperfResult } from './baseline.ts';
import { Lab } from '../src/lab/lab.ts';
import { planTopology, type LabPlan } from '../src/model/topology.ts';

export interface E2eSample { case: string; gbps: number; retransmits: number }
export interface E2eReport {
  samples: E2eSample[];
  summary: { case: string; median: number; min: number; max: number; n: number }[];
  ratios: Record<string, number>;
  upToReadyMs: number[];
}

function benchPlan(name: string, pods: string[], offloads: boolean): LabPlan {
  const plan = planTopology({
    cluster: { name, clusterCIDR: '10.249.0.0/16', offloads },
    nodes: [{ name: 'n1', pods }],
  }, 'benchmark lab');
  return plan;
}

async function runPodwire(seconds: number, offloads: boolean): Promise<IperfResult> {
  const plan = benchPlan('bench', ['bench-a', 'bench-b'], offloads);
  const lab = await Lab.up(plan);
  try {
    const [a, b] = plan.nodes[0].pods;
    return await iperf(a.namespace, b.namespace, b.ip, seconds);
  } finally {
    await lab.down();
  }
}

type OverlayCase = { name: string; overlay: 'vxlan' | 'ipip' | 'host-gw'; dataplane: 'podwire' | 'kernel'; underlay?: 'bridge' };
/** Cross-node cases: one pod on each of two nodes, wired by each overlay, podwire beside the kernel (flannel-style nodes). */
export const OVERLAY_CASES: OverlayCase[] = [
  { name: 'kernel VXLAN (flannel-style nodes)', overlay: 'vxlan', dataplane: 'kernel' },
  { name: 'podwire VXLAN', overlay: 'vxlan', dataplane: 'podwire' },
  { name: 'podwire VXLAN, bridge underlay (sw segmentation)', overlay: 'vxlan', dataplane: 'podwire', underlay: 'bridge' },
  { name: 'podwire IP-in-IP', overlay: 'ipip', dataplane: 'podwire' },
  { name: 'kernel host-gw', overlay: 'host-gw', dataplane: 'kernel' },
  { name: 'podwire host-gw', overlay: 'host-gw', dataplane: 'podwire' },
];

async function runCrossNode(c: OverlayCase, seconds: number): Promise<IperfResult> {
  const plan = planTopology({
    cluster: { name: 'benchx', clusterCIDR: '10.249.0.0/16', overlay: c.overlay, ...(c.underlay ? { underlay: c.underlay } : {}) },
    nodes: [
      { name: 'x1', dataplane: c.dataplane, pods: ['benchx-a'] },
      { name: 'x2', dataplane: c.dataplane, pods: ['benchx-b'] },
    ],
  }, 'benchmark lab');
  const lab = await Lab.up(plan);
  try {
    const a = plan.nodes[0].pods[0];
    const b = plan.nodes[1].pods[0];
    return await iperf(a.namespace, b.namespace, b.ip, seconds);
  } finally {
    await lab.down();
  }
}

async function timeUp(pods: number): Promise<number> {
  const plan = benchPlan('benchup', Array.from({ length: pods }, (_, i) => `bench-up-${i}`), true);
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
  const cases: [string, () => Promise<IperfResult>][] = [
    ['kernel veth+bridge', () => runKernelBridge(seconds)],
    ['C TAP forwarder (vnet hdr, TSO)', () => runCForwarder(seconds, { offloads: true })],
    ['podwire (vnet hdr, TSO)', () => runPodwire(seconds, true)],
  ];
  if (opts.offloadOff) {
    cases.push(['C TAP forwarder (no offloads)', () => runCForwarder(seconds, { offloads: false })]);
    cases.push(['podwire (no offloads)', () => runPodwire(seconds, false)]);
  }
  if (opts.overlays) {
    for (const c of OVERLAY_CASES) cases.push([`cross-node ${c.name}`, () => runCrossNode(c, seconds)]);
  }
  const samples: E2eSample[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const [name, fn] of cases) {
      log(`[${r + 1}/${repeat}] ${name}: iperf3 -t ${seconds} ...`);
      const res = await fn();
      samples.push({ case: name, gbps: res.gbps, retransmits: res.retransmits });
      log(`    ${res.gbps.toFixed(2)} Gbit/s (${res.retransmits} retransmits)`);
    }
  }
  const summary = cases.map(([name]) => {
    const xs = samples.filter((s) => s.case === name).map((s) => s.gbps);
    return { case: name, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
  });
  const med = (n: string) => summary.find((s) => s.case === n)?.median ?? NaN;
  const ratios: Record<string, number> = {
    'podwire / kernel veth+bridge': med('podwire (vnet hdr, TSO)') / med('kernel veth+bridge'),
    'podwire / C TAP forwarder': med('podwire (vnet hdr, TSO)') / med('C TAP forwarder (vnet hdr, TSO)'),
  };
  if (opts.offloadOff) ratios['podwire / C forwarder, no offloads'] = med('podwire (no offloads)') / med('C TAP forwarder (no offloads)');
  if (opts.overlays) {
    ratios['podwire VXLAN / kernel VXLAN (cross-node)'] = med('cross-node podwire VXLAN') / med('cross-node kernel VXLAN (flannel-style nodes)');
    ratios['podwire VXLAN / C TAP forwarder'] = med('cross-node podwire VXLAN') / med('C TAP forwarder (vnet hdr, TSO)');
    ratios['podwire host-gw / kernel host-gw (cross-node)'] = med('cross-node podwire host-gw') / med('cross-node kernel host-gw');
  }
  const upToReadyMs: number[] = [];
  for (let r = 0; r < repeat; r++) upToReadyMs.push(await timeUp(10));
  return { samples, summary, ratios, upToReadyMs };
}
