// bench overlay: one two-node cluster (a same-node pair on x1, one pod on
// x2), wired each way — same-node bridge, host-gw, VXLAN, IP-in-IP, and a
// ClusterIP Service whose backend is on the other node — by podwire and by
// the Linux kernel (flannel-style kernel nodes, kube-proxy nftables rules).
// Every case is a real lab (Lab.up), brought up once per round and measured
// for every metric while it is up. Podwire and kernel of the same path run
// back to back in every round, so their ratio is fair on a noisy machine.
import { Lab, downByState } from '../src/lab/lab.ts';
import { planTopology, labId, type LabPlan, type Overlay } from '../src/model/topology.ts';
import { run } from '../src/io/netns.ts';
import { PATHS, type PathName } from './overlay-cases.ts';
import { pathArithmetic, type PathArithmetic } from './overlay-math.ts';
import { summarize, type Summary } from './stats.ts';
import {
  tcpThroughput, udpSmallPackets, pingLatency, tcpRequestResponse, machineCpuSeconds, processCpuSeconds, offloadsOff,
  type Endpoints, type TcpResult,
} from './probes.ts';
import { roundOrder, describeOffloads, OFFLOADS_OFF } from './plan.ts';
import { withCrossHost, CROSS_HOST_DESCRIPTION } from './overlay-cross-host.ts';
import { runInterruptCleanups } from './interrupt.ts';

export { PATHS, parseCases, type PathName } from './overlay-cases.ts';
export const DATAPLANES = ['podwire', 'kernel'] as const;
export type Dataplane = (typeof DATAPLANES)[number];

/** Kernel nodes cannot do IP-in-IP here: topology validation refuses it for the same reason. */
export const KERNEL_IPIP_REASON = 'n/a: no ipip module in this host kernel';
const CLUSTERIP_PING_REASON = 'n/a: a ClusterIP answers no ICMP echo (kube-proxy matches Service ports only)';
const KERNEL_DP_CPU_REASON = 'n/a: the kernel data plane is not a process';
const CROSS_HOST_CPU_REASON = 'n/a: podwire runs as two processes of its own (one per host), not in this one';
const CROSS_HOST_OFF_REASON = 'n/a: measured with offloads on only';

export interface MetricDef { key: MetricKey; label: string; unit: string; better: 'higher' | 'lower' }
export type MetricKey = 'tcpGbps' | 'tcpOffGbps' | 'udpMpps' | 'pingP50Us' | 'pingP99Us' | 'rrP50Us' | 'rrP99Us' | 'cpuDataplaneSPerGB' | 'cpuMachineSPerGB';
export const METRICS: MetricDef[] = [
  { key: 'tcpGbps', label: 'TCP, offloads on', unit: 'Gbit/s', better: 'higher' },
  { key: 'tcpOffGbps', label: 'TCP, offloads off (MTU-sized frames)', unit: 'Gbit/s', better: 'higher' },
  { key: 'udpMpps', label: 'UDP 64 B frames received', unit: 'Mpps', better: 'higher' },
  { key: 'pingP50Us', label: 'ping p50', unit: 'µs', better: 'lower' },
  { key: 'pingP99Us', label: 'ping p99', unit: 'µs', better: 'lower' },
  { key: 'rrP50Us', label: 'TCP request/response p50', unit: 'µs', better: 'lower' },
  { key: 'rrP99Us', label: 'TCP request/response p99', unit: 'µs', better: 'lower' },
  { key: 'cpuDataplaneSPerGB', label: 'data-plane CPU per GB (podwire process)', unit: 'CPU s/GB', better: 'lower' },
  { key: 'cpuMachineSPerGB', label: 'whole-machine CPU per GB (incl. iperf3)', unit: 'CPU s/GB', better: 'lower' },
];

export interface OverlayOptions {
  paths?: PathName[];
  seconds?: number;
  repeat?: number;
  /** ping count and TCP round trips per sample */
  pings?: number;
  roundTrips?: number;
  /** the overlay the ClusterIP case crosses nodes with */
  serviceOverlay?: Overlay;
  /** lab (and pod name) prefix: unique per user of the host */
  labName?: string;
  log?: (s: string) => void;
}

export interface CaseSample {
  round: number;
  /** 1-based position of this case in its round (podwire first in odd rounds, the kernel first in even ones) */
  order?: number;
  path: PathName;
  dataplane: Dataplane;
  metrics: Partial<Record<MetricKey, number>>;
  /** what the probes returned, as measured */
  raw: Record<string, unknown>;
  /** a probe that failed: the metric has no sample this round */
  errors: string[];
}

export interface CaseSummary {
  path: PathName;
  dataplane: Dataplane;
  /** set when the case was not run */
  skipped?: string;
  metrics: Partial<Record<MetricKey, Summary>>;
  /** why a metric does not apply to this case */
  notApplicable: Partial<Record<MetricKey, string>>;
}

export interface OverlayReport {
  options: {
    paths: PathName[]; seconds: number; repeat: number; pings: number; roundTrips: number; serviceOverlay: Overlay;
    /** the cross-host case's podwire underlay: 'socket' with PODWIRE_HOST_UNDERLAY=socket in the environment, else the host TAP */
    crossHostUnderlay?: 'tap' | 'socket';
  };
  /** per path: the overlay it crosses and the arithmetic at the pod MTU the lab configured */
  paths: { path: PathName; description: string; overlay: Overlay | 'none'; arithmetic: PathArithmetic }[];
  samples: CaseSample[];
  summary: CaseSummary[];
  /** podwire median / kernel median, per path and metric */
  ratios: { path: PathName; metric: MetricKey; ratio: number }[];
  notes: string[];
  /** per round, the order the cases ran in ("path/dataplane") */
  rounds?: { round: number; order: string[] }[];
  /** what "offloads off" did, per dataplane: the same ethtool features for both */
  offloadsOff?: Record<Dataplane, string>;
}

/** One round's cases (1-based round): per path, podwire then kernel in odd rounds, kernel then podwire in even ones. */
export function overlayRoundOrder<T extends { path: PathName; dataplane: Dataplane }>(cases: T[], round: number): T[] {
  return roundOrder(cases.map((c) => ({ ...c, comparison: c.path, contender: c.dataplane })), round)
    .map(({ comparison: _c, contender: _d, ...c }) => c as unknown as T);
}

/** The overlay a path's lab uses: the same-node pair sits in a host-gw lab, so its pods get the full 1500 MTU as on a kernel bridge. */
export function pathOverlay(path: PathName, serviceOverlay: Overlay): Overlay {
  return path === 'same-node' ? 'host-gw' : path === 'clusterip' ? serviceOverlay : path === 'cross-host' ? 'vxlan' : path;
}

export function describePath(path: PathName, serviceOverlay: Overlay): string {
  switch (path) {
    case 'same-node': return 'two pods on one node: bridge (kernel: veth + cni0 bridge)';
    case 'host-gw': return 'pods on two nodes, direct routes (kernel: routes over the underlay veth)';
    case 'vxlan': return 'pods on two nodes, VXLAN (kernel: flannel.1 vxlan device)';
    case 'ipip': return 'pods on two nodes, IP-in-IP (kernel: no ipip module here)';
    case 'clusterip': return `client -> ClusterIP, one backend on the other node over ${serviceOverlay} (kernel: kube-proxy nftables DNAT + conntrack)`;
    case 'cross-host': return CROSS_HOST_DESCRIPTION;
  }
}

const PORT_TCP = 5201;
const PORT_RR = 7007;

export function casePlan(path: PathName, dataplane: Dataplane, offloads: boolean, labName: string, serviceOverlay: Overlay): LabPlan {
  return planTopology({
    cluster: { name: labName, clusterCIDR: '10.249.0.0/16', overlay: pathOverlay(path, serviceOverlay), offloads, dns: false },
    nodes: [
      { name: 'x1', dataplane, pods: [`${labName}-a`, `${labName}-a2`] },
      { name: 'x2', dataplane, pods: [{ name: `${labName}-b`, labels: { app: `${labName}-be` } }] },
    ],
    services: path === 'clusterip' ? [{
      name: `${labName}-svc`,
      selector: { app: `${labName}-be` },
      ports: [
        { name: 'iperf-tcp', port: PORT_TCP, targetPort: PORT_TCP, protocol: 'TCP' },
        { name: 'iperf-udp', port: PORT_TCP, targetPort: PORT_TCP, protocol: 'UDP' },
        { name: 'rr', port: PORT_RR, targetPort: PORT_RR, protocol: 'TCP' },
      ],
    }] : [],
  }, 'bench overlay lab');
}

function endpoints(path: PathName, plan: LabPlan): Endpoints {
  const [a, a2] = plan.nodes[0].pods;
  const b = plan.nodes[1].pods[0];
  if (path === 'same-node') return { clientNs: a.namespace, serverNs: a2.namespace, serverIp: a2.ip, target: a2.ip };
  const target = path === 'clusterip' ? plan.services[0].clusterIP : b.ip;
  return { clientNs: a.namespace, serverNs: b.namespace, serverIp: b.ip, target };
}

async function podMtu(ns: string): Promise<number> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'link', 'show', 'eth0']);
  return (JSON.parse(stdout) as { mtu: number }[])[0].mtu;
}

/**
 * Lab.up, remembering the lab while it comes up and while it is up: Ctrl-C
 * or SIGTERM in the middle of a measurement waits for a bring-up in flight,
 * takes the lab down (its pw- namespaces and TAPs), then exits; if that
 * hangs, the lab's state file says what to remove (downByState).
 */
let current: { name: string; up: Promise<Lab> } | undefined;
let stopping = false;
const onSignal = (sig: NodeJS.Signals) => {
  if (stopping) return; // a second signal: the cleanup under way (or its 15 s timer) ends the process
  stopping = true; // no new lab while this one goes down
  const c = current;
  current = undefined;
  const code = sig === 'SIGINT' ? 130 : 143;
  // what a case made by itself (interrupt.ts), beside the lab withLab has up
  const own = runInterruptCleanups();
  if (!c) { void own.finally(() => process.exit(code)); return; }
  setTimeout(() => void downByState(c.name).finally(() => process.exit(code)), 15_000).unref();
  void Promise.allSettled([own, c.up.then((lab) => lab.down())]).finally(() => process.exit(code));
};
export async function withLab<T>(plan: LabPlan, fn: (lab: Lab) => Promise<T>): Promise<T> {
  if (stopping) throw new Error('stopping on a signal');
  const up = Lab.up(plan);
  current = { name: labId(plan), up };
  let lab: Lab | undefined;
  try {
    lab = await up;
    return await fn(lab);
  } finally {
    current = undefined;
    await lab?.down();
  }
}

export async function runOverlay(opts: OverlayOptions = {}): Promise<OverlayReport> {
  return withSignals(() => measure(opts));
}

/** Run `fn` with Ctrl-C / SIGTERM taking down the lab withLab has up (the mixed cases use it too: overlay-mixed.ts). */
export async function withSignals<T>(fn: () => Promise<T>): Promise<T> {
  stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, onSignal);
  try {
    return await fn();
  } finally {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, onSignal);
  }
}

async function measure(opts: OverlayOptions): Promise<OverlayReport> {
  const paths = opts.paths ?? [...PATHS];
  const seconds = opts.seconds ?? 5;
  const repeat = opts.repeat ?? 3;
  const pings = opts.pings ?? 1000;
  const roundTrips = opts.roundTrips ?? 2000;
  const serviceOverlay = opts.serviceOverlay ?? 'vxlan';
  const labName = opts.labName ?? 'pwbo';
  const log = opts.log ?? console.log;
  const cases = paths.flatMap((path) => DATAPLANES.map((dataplane) => ({ path, dataplane })));
  const skip = (c: { path: PathName; dataplane: Dataplane }) =>
    c.dataplane === 'kernel' && (c.path === 'ipip' || (c.path === 'clusterip' && serviceOverlay === 'ipip')) ? KERNEL_IPIP_REASON : undefined;
  const runnable = cases.filter((c) => !skip(c));
  for (const c of cases) if (skip(c)) log(`${c.path}/${c.dataplane}: ${skip(c)} (not run)`);

  const clkTck = Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  const samples: CaseSample[] = [];
  const mtus = new Map<PathName, number>();
  const notes = new Set<string>();

  for (const dp of DATAPLANES) log(`offloads off, ${dp}: ${describeOffloads(dp, OFFLOADS_OFF)}`);
  const rounds: OverlayReport['rounds'] = [];
  for (let r = 0; r < repeat; r++) {
    const order = overlayRoundOrder(runnable, r + 1);
    rounds.push({ round: r + 1, order: order.map((c) => `${c.path}/${c.dataplane}`) });
    for (const [i, c] of order.entries()) {
      const tag = `[round ${r + 1}/${repeat}] [case ${i + 1}/${order.length}] ${c.path}/${c.dataplane}`;
      const sample: CaseSample = { round: r + 1, order: i + 1, path: c.path, dataplane: c.dataplane, metrics: {}, raw: {}, errors: [] };
      samples.push(sample);
      // a probe that fails costs its metric this round, not the run
      const attempt = async (what: string, fn: () => Promise<void>) => {
        log(`${tag}: ${what} ...`);
        try {
          await fn();
        } catch (e) {
          const msg = `${what}: ${(e as Error).message.split('\n')[0]}`;
          sample.errors.push(msg);
          log(`${tag}:   failed: ${msg}`);
        }
      };
      const tcpWithCpu = async (e: Endpoints): Promise<{ tcp: TcpResult; processCpuS: number; machineCpuS: number }> => {
        const p0 = processCpuSeconds(), m0 = machineCpuSeconds(clkTck);
        const tcp = await tcpThroughput(e, PORT_TCP, seconds);
        return { tcp, processCpuS: processCpuSeconds() - p0, machineCpuS: machineCpuSeconds(clkTck) - m0 };
      };

      const crossHost = c.path === 'cross-host';
      // the case's pods, up for `body`: a lab in this process, or two hosts with a podwire (or the kernel's vxlan) each
      const withCase = (body: (e: Endpoints, lab?: Lab) => Promise<void>): Promise<void> => {
        if (crossHost) return withCrossHost(c.dataplane, labName, (x) => body(x.endpoints));
        const plan = casePlan(c.path, c.dataplane, true, labName, serviceOverlay);
        return withLab(plan, (lab) => body(endpoints(c.path, plan), lab));
      };
      await attempt(crossHost ? 'hosts up (offloads on)' : 'lab up (offloads on)', async () => {
        await withCase(async (e, lab) => {
          const mtu = await podMtu(e.clientNs);
          sample.raw.podMtu = mtu;
          if (!mtus.has(c.path)) mtus.set(c.path, mtu);
          // first packets learn MACs and neighbours: not part of any measurement
          await pingLatency(e.clientNs, e.serverIp, 3, 0.2).catch(() => undefined);
          await attempt(`TCP ${seconds} s`, async () => {
            const t = await tcpWithCpu(e);
            sample.raw.tcp = t;
            sample.metrics.tcpGbps = t.tcp.gbps;
            const gb = t.tcp.bytes / 1e9;
            sample.metrics.cpuMachineSPerGB = t.machineCpuS / gb;
            if (c.dataplane === 'podwire' && !crossHost) sample.metrics.cpuDataplaneSPerGB = t.processCpuS / gb;
            log(`${tag}:   ${t.tcp.gbps.toFixed(2)} Gbit/s, ${t.tcp.retransmits} retransmits; CPU ${t.processCpuS.toFixed(2)} s process, ${t.machineCpuS.toFixed(2)} s machine for ${gb.toFixed(2)} GB`);
          });
          await attempt(`UDP ${seconds} s, 64 B frames`, async () => {
            const u = await udpSmallPackets(e, PORT_TCP, seconds);
            sample.raw.udp = u;
            sample.metrics.udpMpps = u.pps / 1e6;
            log(`${tag}:   ${(u.pps / 1e6).toFixed(3)} Mpps received, ${u.lossPct.toFixed(1)}% lost`);
          });
          if (c.path !== 'clusterip') {
            await attempt(`ping x${pings}`, async () => {
              const p = await pingLatency(e.clientNs, e.target, pings);
              sample.raw.ping = p;
              sample.metrics.pingP50Us = p.p50Us;
              sample.metrics.pingP99Us = p.p99Us;
              log(`${tag}:   p50 ${p.p50Us.toFixed(0)} µs, p99 ${p.p99Us.toFixed(0)} µs, ${p.lost} lost`);
            });
          }
          await attempt(`TCP request/response x${roundTrips}`, async () => {
            const q = await tcpRequestResponse(e, PORT_RR, roundTrips);
            sample.raw.rr = q;
            sample.metrics.rrP50Us = q.p50Us;
            sample.metrics.rrP99Us = q.p99Us;
            log(`${tag}:   p50 ${q.p50Us.toFixed(0)} µs, p99 ${q.p99Us.toFixed(0)} µs`);
          });
          if (c.dataplane === 'kernel' && lab) {
            // same lab, its devices' offloads turned off
            await attempt(`TCP ${seconds} s, offloads off (ethtool -K ${OFFLOADS_OFF.ethtoolOff.join('/')} off)`, async () => {
              const off = await offloadsOff(lab.state.namespaces, OFFLOADS_OFF.ethtoolOff);
              sample.raw.offloadsOff = off;
              if (off.failed.length) notes.add(`kernel offloads off: ethtool refused ${off.failed.length} device(s), e.g. ${off.failed[0]}`);
              const t = await tcpWithCpu(e);
              sample.raw.tcpOff = t;
              sample.metrics.tcpOffGbps = t.tcp.gbps;
              log(`${tag}:   ${t.tcp.gbps.toFixed(2)} Gbit/s, ${t.tcp.retransmits} retransmits (${off.changed.length} devices changed)`);
            });
          }
        });
      });
      if (c.dataplane === 'podwire' && !crossHost) {
        await attempt(`lab up (offloads: false), TCP ${seconds} s`, async () => {
          const plan = casePlan(c.path, c.dataplane, false, labName, serviceOverlay);
          await withLab(plan, async (lab) => {
            const e = endpoints(c.path, plan);
            // TAPs without offloads, and the same ethtool features off as on the kernel's devices
            const off = await offloadsOff(lab.state.namespaces, OFFLOADS_OFF.ethtoolOff);
            sample.raw.offloadsOff = off;
            if (off.failed.length) notes.add(`podwire offloads off: ethtool refused ${off.failed.length} device(s), e.g. ${off.failed[0]}`);
            await pingLatency(e.clientNs, e.serverIp, 3, 0.2).catch(() => undefined);
            const p0 = processCpuSeconds(), m0 = machineCpuSeconds(clkTck);
            const tcp = await tcpThroughput(e, PORT_TCP, seconds);
            sample.raw.tcpOff = { tcp, processCpuS: processCpuSeconds() - p0, machineCpuS: machineCpuSeconds(clkTck) - m0 };
            sample.metrics.tcpOffGbps = tcp.gbps;
            log(`${tag}:   ${tcp.gbps.toFixed(2)} Gbit/s, ${tcp.retransmits} retransmits`);
          });
        });
      }
    }
  }

  const notApplicable = (path: PathName, dp: Dataplane): Partial<Record<MetricKey, string>> => ({
    ...(path === 'clusterip' ? { pingP50Us: CLUSTERIP_PING_REASON, pingP99Us: CLUSTERIP_PING_REASON } : {}),
    ...(dp === 'kernel' ? { cpuDataplaneSPerGB: KERNEL_DP_CPU_REASON } : {}),
    ...(path === 'cross-host' ? { tcpOffGbps: CROSS_HOST_OFF_REASON, ...(dp === 'podwire' ? { cpuDataplaneSPerGB: CROSS_HOST_CPU_REASON } : {}) } : {}),
  });
  const summary: CaseSummary[] = cases.map((c) => {
    const reason = skip(c);
    if (reason) return { ...c, skipped: reason, metrics: {}, notApplicable: {} };
    const mine = samples.filter((s) => s.path === c.path && s.dataplane === c.dataplane);
    const metrics: CaseSummary['metrics'] = {};
    for (const m of METRICS) {
      const s = summarize(mine.map((x) => x.metrics[m.key]));
      if (s) metrics[m.key] = s;
    }
    return { ...c, metrics, notApplicable: notApplicable(c.path, c.dataplane) };
  });
  const ratios: OverlayReport['ratios'] = [];
  for (const path of paths) {
    const [pw, k] = DATAPLANES.map((dp) => summary.find((s) => s.path === path && s.dataplane === dp)!);
    for (const m of METRICS) {
      const a = pw.metrics[m.key]?.median, b = k.metrics[m.key]?.median;
      if (a !== undefined && b !== undefined && b !== 0) ratios.push({ path, metric: m.key, ratio: a / b });
    }
  }
  const pathInfo = paths.map((path) => {
    const overlay: Overlay | 'none' = path === 'same-node' ? 'none' : pathOverlay(path, serviceOverlay);
    const mtu = mtus.get(path) ?? casePlan(path, 'podwire', true, labName, serviceOverlay).podMtu;
    return { path, description: describePath(path, serviceOverlay), overlay, arithmetic: pathArithmetic(overlay, mtu) };
  });
  notes.add('whole-machine CPU is every busy CPU second on the host during the TCP run (/proc/stat), iperf3 included, and any other load on the machine');
  notes.add('data-plane CPU is this process\'s CPU time (the forwarding worker thread and the control thread) during the TCP run; the kernel\'s data plane is not a process');
  const offloadsOffBy = Object.fromEntries(DATAPLANES.map((dp) => [dp, describeOffloads(dp, OFFLOADS_OFF)])) as Record<Dataplane, string>;
  notes.add(`offloads off: podwire: ${offloadsOffBy.podwire}; kernel: ${offloadsOffBy.kernel}`);
  notes.add('order: podwire first in odd rounds, the kernel first in even rounds');
  const crossHostUnderlay = paths.includes('cross-host') ? { crossHostUnderlay: process.env.PODWIRE_HOST_UNDERLAY === 'socket' ? 'socket' as const : 'tap' as const } : {};
  return { options: { paths, seconds, repeat, pings, roundTrips, serviceOverlay, ...crossHostUnderlay }, paths: pathInfo, samples, summary, ratios, notes: [...notes], rounds, offloadsOff: offloadsOffBy };
}
