// bench scale's report: what one lab measured, the arithmetic on it (idle
// CPU, the cost of one more pod between two lab sizes, the targets), the
// terminal table and the SVG chart. No I/O here, so tests can check it all.
import { table } from '../src/util/table.ts';
import type { Chart } from './svg.ts';
import type { MemoryStatus } from '../src/lab/memory-status.ts';
import type { Phase } from '../src/lab/phases.ts';

export interface ScaleLabResult {
  pods: number;
  nodes: number;
  /** /proc/loadavg (1, 5, 15 min) when the lab started */
  loadavg: string;
  /** spawn of `podwire up` to its "ready" line */
  readyMs?: number;
  /** SIGTERM to the process's exit (teardown included) */
  downMs?: number;
  /** the lab process's VmRSS one second after ready */
  rssBytes?: number;
  /** MemAvailable before up minus one second after ready: the process and the kernel's namespaces, TAPs, routes */
  hostMemBytes?: number;
  /** `podwire status --json` memory section */
  memory?: MemoryStatus;
  /** CPU of every thread of the lab process while nothing is sent, % of one core */
  idleCpuPct?: number;
  probe?: { client: string; server: string };
  tcpGbps?: number;
  pingP50Us?: number;
  pingP99Us?: number;
  upPhases?: Phase[];
  downPhases?: Phase[];
  /** namespaces of the lab still there after its process exited */
  leftovers?: string[];
  /** the lab failed: why (its other fields hold what was measured before) */
  error?: string;
  /** probes that failed while the lab ran */
  errors?: string[];
}

export interface ScaleReport {
  options: { idleSeconds: number; pings: number; iperfSeconds: number };
  labs: ScaleLabResult[];
}

/** The targets for the 1000-pod, 50-node lab. */
export const SCALE_TARGETS = { pods: 1000, readyMs: 10_000, downMs: 5_000, idleCpuPct: 2 };

/** `podwire: up phase NAME: 12.5 ms` lines (PODWIRE_DEBUG, src/lab/phases.ts) of one kind. */
export function parsePhaseLines(text: string, what: 'up' | 'down'): Phase[] {
  const re = new RegExp(`^podwire: ${what} phase (.+): ([\\d.]+) ms$`, 'gm');
  return [...text.matchAll(re)].map((m) => ({ phase: m[1], ms: Number(m[2]) }));
}

/** CPU ticks used over `seconds` of wall time, as % of one core. */
export function cpuPercent(ticks: number, clkTck: number, seconds: number): number {
  if (!(seconds > 0)) return NaN;
  return (ticks / clkTck / seconds) * 100;
}

/**
 * The cost of one more pod between consecutive lab sizes: (b - a) / (pods b
 * - pods a) for each metric both labs measured. Fixed costs cancel out; node
 * count changes between sizes are part of the slope (said in the report).
 */
export function perPodSlopes(labs: ScaleLabResult[]): { from: number; to: number; rssBytes?: number; hostMemBytes?: number; readyMs?: number; downMs?: number }[] {
  const ok = labs.filter((l) => !l.error).sort((a, b) => a.pods - b.pods);
  const out: ReturnType<typeof perPodSlopes> = [];
  for (let i = 1; i < ok.length; i++) {
    const [a, b] = [ok[i - 1], ok[i]];
    const d = b.pods - a.pods;
    if (d <= 0) continue;
    const slope = (x?: number, y?: number) => (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) ? (y - x) / d : undefined);
    out.push({ from: a.pods, to: b.pods, rssBytes: slope(a.rssBytes, b.rssBytes), hostMemBytes: slope(a.hostMemBytes, b.hostMemBytes), readyMs: slope(a.readyMs, b.readyMs), downMs: slope(a.downMs, b.downMs) });
  }
  return out;
}

/** Each target of the lab of SCALE_TARGETS.pods pods: measured, met or not. */
export function scaleTargetChecks(labs: ScaleLabResult[]): { target: string; measured: string; met: boolean | undefined }[] {
  const l = labs.find((x) => x.pods === SCALE_TARGETS.pods);
  const check = (target: string, v: number | undefined, limit: number, unit: string, scale = 1) => ({
    target, measured: v === undefined ? 'n/a' : `${(v / scale).toFixed(2)} ${unit}`, met: v === undefined ? undefined : v <= limit,
  });
  if (!l) return [];
  return [
    check(`up -> ready <= ${SCALE_TARGETS.readyMs / 1000} s (${l.pods} pods, ${l.nodes} nodes)`, l.readyMs, SCALE_TARGETS.readyMs, 's', 1000),
    check(`SIGTERM teardown <= ${SCALE_TARGETS.downMs / 1000} s`, l.downMs, SCALE_TARGETS.downMs, 's', 1000),
    check(`idle CPU <= ${SCALE_TARGETS.idleCpuPct} % of a core`, l.idleCpuPct, SCALE_TARGETS.idleCpuPct, '%'),
  ];
}

const MiB = 1024 * 1024;
const f = (v: number | undefined, digits: number, scale = 1) => (v === undefined || !Number.isFinite(v) ? 'n/a' : (v / scale).toFixed(digits));

export function scaleTables(r: ScaleReport): string {
  const out: string[] = [];
  out.push(table(['PODS', 'NODES', 'READY s', 'DOWN s', 'RSS MiB', 'HOST MEM MiB', 'IDLE CPU %', 'TCP Gbit/s', 'PING p50 µs', 'PING p99 µs', 'LOADAVG', 'RESULT'],
    r.labs.map((l) => [l.pods, l.nodes, f(l.readyMs, 2, 1000), f(l.downMs, 2, 1000), f(l.rssBytes, 1, MiB), f(l.hostMemBytes, 1, MiB), f(l.idleCpuPct, 2),
      f(l.tcpGbps, 2), f(l.pingP50Us, 0), f(l.pingP99Us, 0), l.loadavg,
      l.error ? `FAILED: ${l.error}` : l.leftovers?.length ? `left ${l.leftovers.length} namespace(s)` : l.errors?.length ? `probe failed: ${l.errors.join('; ')}` : 'ok'])));
  const slopes = perPodSlopes(r.labs);
  if (slopes.length) {
    out.push('', 'one more pod costs (difference between consecutive labs / difference in pods; node counts change too)');
    out.push(table(['FROM', 'TO', 'RSS KiB/pod', 'HOST MEM KiB/pod', 'READY ms/pod', 'DOWN ms/pod'],
      slopes.map((s) => [s.from, s.to, f(s.rssBytes, 1, 1024), f(s.hostMemBytes, 1, 1024), f(s.readyMs, 2), f(s.downMs, 2)])));
  }
  for (const l of r.labs) {
    const phases = (p: Phase[] | undefined) => (p?.length ? p.map((x) => `${x.phase} ${x.ms.toFixed(0)}`).join(', ') : 'n/a');
    out.push('', `${l.pods} pods: up phases (ms): ${phases(l.upPhases)}`, `${l.pods} pods: down phases (ms): ${phases(l.downPhases)}`);
  }
  const checks = scaleTargetChecks(r.labs);
  if (checks.length) {
    out.push('', table(['TARGET', 'MEASURED', 'MET'], checks.map((c) => [c.target, c.measured, c.met === undefined ? 'n/a' : c.met ? 'yes' : 'NO'])));
  }
  return out.join('\n');
}

export function scaleChart(r: ScaleReport, machine: string): Chart {
  const group = (l: ScaleLabResult) => `${l.pods} pods, ${l.nodes} nodes`;
  const panel = (title: string, unit: string, hint: string, v: (l: ScaleLabResult) => number | undefined) => ({
    title, unit, hint,
    groups: r.labs.map((l) => {
      const x = v(l);
      return { label: group(l), bars: [x === undefined || !Number.isFinite(x) ? { series: 'podwire', note: l.error ? `n/a: lab failed (${l.error.slice(0, 60)})` : 'n/a' } : { series: 'podwire', value: x }] };
    }),
  });
  return {
    title: 'podwire bench scale: labs of growing size',
    subtitle: `${machine}\none run per lab; ping/iperf3 between a pod on the first node and one on the last; idle CPU over ${r.options.idleSeconds} s`,
    panels: [
      panel('up -> ready', 's', 'lower is better', (l) => (l.readyMs === undefined ? undefined : l.readyMs / 1000)),
      panel('SIGTERM -> exit (teardown)', 's', 'lower is better', (l) => (l.downMs === undefined ? undefined : l.downMs / 1000)),
      panel('lab process RSS', 'MiB', 'lower is better', (l) => (l.rssBytes === undefined ? undefined : l.rssBytes / MiB)),
      panel('idle CPU', '% of a core', 'lower is better', (l) => l.idleCpuPct),
      panel('cross-node TCP (iperf3)', 'Gbit/s', 'higher is better', (l) => l.tcpGbps),
      panel('cross-node ping p50', 'µs', 'lower is better', (l) => l.pingP50Us),
      panel('cross-node ping p99', 'µs', 'lower is better', (l) => l.pingP99Us),
    ],
  };
}
