// podwire bench hotpath | e2e: run a suite, print what it measured, save the raw samples as JSON.
import { Command } from 'commander';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { requireRoot } from './root.ts';
import { table } from '../util/table.ts';
import { packageFile } from '../util/package-files.ts';
import { renderChart, type Chart } from '../../bench/svg.ts';
import { parseAllCases, PATHS, EXTRA_CASES } from '../../bench/overlay-cases.ts';
import type { Overlay } from '../model/topology.ts';
import type { HotpathData } from '../../bench/hotpath-report.ts';

/** podwire's own version from its package.json (npm_package_version is unset under npx). */
function podwireVersion(): string {
  try {
    return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machine() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, kernel: os.release(),
    node: process.version, podwire: podwireVersion(), date: new Date().toISOString(),
  };
}

/** One line naming the machine, for chart subtitles. */
function machineLine(): string {
  const m = machine();
  return `${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}, podwire ${m.podwire}, ${m.date.slice(0, 16)}Z`;
}

/** Write podwire-<kind>-<time>.json (machine + data) and, given one, the .svg beside it; returns the paths. */
function save(dir: string, kind: string, data: unknown, svg?: string): string {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `podwire-${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, JSON.stringify({ machine: machine(), ...(data as object) }, null, 2));
  if (svg === undefined) return `${base}.json`;
  writeFileSync(`${base}.svg`, svg);
  return `${base}.json, chart: ${base}.svg`;
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('measure the data plane (figures, never pass/fail)');
  bench.command('hotpath')
    .description('in-memory hot-path suites (benchmark.js): bridge forwarding, routing + overlays, Service DNAT, the cost of tracing off, NetworkPolicy; Mpps and ns/frame')
    .option('--quick', 'short runs')
    .option('--suites <list>', 'comma-separated: bridge, overlay, service, trace, policy', 'bridge,overlay,service,trace,policy')
    .option('--out <dir>', 'where to write the JSON and the SVG chart', '.')
    .action(async (opts: { quick?: boolean; suites: string; out: string }) => {
      const suites = new Set(opts.suites.split(',').map((s) => s.trim()).filter(Boolean));
      const known = ['bridge', 'overlay', 'service', 'trace', 'policy'];
      for (const s of suites) if (!known.includes(s)) throw new Error(`unknown suite "${s}" (${known.join(', ')})`);
      const data: HotpathData = {};
      const todo = known.filter((x) => suites.has(x));
      const step = (name: string) => console.log(`== suite ${todo.indexOf(name) + 1}/${todo.length}: ${name}`);
      if (suites.has('bridge')) {
        step('bridge');
        const { runHotpath } = await import('../../bench/hotpath.ts');
        data.results = await runHotpath({ quick: opts.quick });
        console.log('');
      }
      if (suites.has('overlay')) {
        step('overlay');
        const { runOverlayHotpath } = await import('../../bench/overlay-hotpath.ts');
        data.overlay = await runOverlayHotpath({ quick: opts.quick });
        console.log('');
      }
      const info: string[] = [];
      if (suites.has('service')) {
        step('service');
        const { runServiceHotpath, serviceTargets } = await import('../../bench/service-hotpath.ts');
        data.service = await runServiceHotpath({ quick: opts.quick });
        console.log('');
        info.push(...serviceTargets(data.service));
      }
      if (suites.has('trace')) {
        step('trace');
        const { runTraceCost } = await import('../../bench/trace-cost.ts');
        data.trace = await runTraceCost({ quick: opts.quick });
        console.log('');
      }
      if (suites.has('policy')) {
        step('policy');
        const { runPolicyHotpath, policyReport } = await import('../../bench/policy-hotpath.ts');
        data.policy = await runPolicyHotpath({ quick: opts.quick });
        console.log('');
        info.push(...policyReport(data.policy));
      }
      const { hotpathChart, hotpathTargetChecks, targetsTable } = await import('../../bench/hotpath-report.ts');
      const checks = hotpathTargetChecks(data);
      console.log('targets checked');
      console.log(targetsTable(checks));
      for (const line of info) console.log(line);
      console.log(`raw results: ${save(opts.out, 'hotpath', { ...data, targets: checks }, renderChart(hotpathChart(data, machineLine())))}`);
    });
  bench.command('store')
    .description('a multi-host lab sharing etcd (--store), three hosts on this machine: apply of N Services and one endpoint change, until every host\'s data plane has it (root, etcd)')
    .option('--services <n>', 'Services in the apply', (v) => parseInt(v, 10), 1000)
    .option('--changes <n>', 'endpoint changes timed', (v) => parseInt(v, 10), 20)
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { services: number; changes: number; out: string }) => {
      requireRoot('podwire bench store');
      const { runStoreBench } = await import('../../bench/store.ts');
      const r = await runStoreBench({ services: opts.services, endpointChanges: opts.changes });
      const ms = (x: number) => `${x.toFixed(1)} ms`;
      const phases = (c: typeof r.apply) => `writer: connect ${ms(c.writer.connectMs)}, read ${ms(c.writer.readMs)}, plan ${ms(c.writer.planMs)}, write ${ms(c.writer.writeMs)}; `
        + `a bare etcd watcher saw it at ${ms(c.bareWatchMs)}; hosts served at ${c.hosts.map((h) => ms(h.servedMs)).join(', ')} `
        + `(per host, summed over its ${c.hosts.map((h) => h.batches).join('/')} batch(es): waited ${c.hosts.map((h) => h.waitedMs.toFixed(1)).join('/')} ms, `
        + `planned ${c.hosts.map((h) => h.planMs.toFixed(1)).join('/')} ms, programmed ${c.hosts.map((h) => h.programMs.toFixed(1)).join('/')} ms)`;
      console.log(`loadavg at start ${r.loadavg.start}, at end ${r.loadavg.end}`);
      console.log(`apply of ${opts.services} Services -> every host serving them: ${ms(r.apply.allMs)} (goal <= 1000 ms)\n  ${phases(r.apply)}`);
      const e = r.endpointChange;
      console.log(`one endpoint change -> every host: median ${ms(e.medianMs)}, min ${ms(e.minMs)}, max ${ms(e.maxMs)} over ${r.endpointChanges.length} (goal <= 100 ms); `
        + `of which writing (connect, read, plan, write): median ${ms(e.writtenMedianMs)}; etcd to the last host's data plane: median ${ms(e.propagationMedianMs)}; a bare etcd watcher: median ${ms(e.bareWatchMedianMs)}`);
      const mid = [...r.endpointChanges].sort((a, b) => a.allMs - b.allMs)[Math.floor(r.endpointChanges.length / 2)];
      console.log(`  the median change: ${phases(mid)}`);
      console.log(`raw results: ${save(opts.out, 'store', r)}`);
    });
  bench.command('e2e')
    .description('iperf3 TCP pod to pod through podwire vs the kernel veth+bridge and a C TAP forwarder (root)')
    .option('--duration <s>', 'seconds per iperf3 run', (v) => parseInt(v, 10), 5)
    .option('--repeat <n>', 'rounds (cases interleaved within each)', (v) => parseInt(v, 10), 3)
    .option('--offload-off', 'also compare with offloads off for every contender (TAPs without offloads; ethtool -K tx/tso/gso/gro off on every device)')
    .option('--overlays', 'also cross-node: podwire VXLAN / IP-in-IP / host-gw beside the kernel\'s (flannel-style nodes)')
    .option('--quick', 'one round of 2 s runs')
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { duration: number; repeat: number; offloadOff?: boolean; overlays?: boolean; quick?: boolean; out: string }) => {
      requireRoot('podwire bench e2e');
      const { runE2e } = await import('../../bench/e2e.ts');
      const r = await runE2e({ seconds: opts.quick ? 2 : opts.duration, repeat: opts.quick ? 1 : opts.repeat, offloadOff: opts.offloadOff, overlays: opts.overlays });
      const info = new Map(r.cases.map((c) => [c.name, c]));
      console.log('\n' + table(['CASE', 'POD MTU', 'OFFLOADS', 'MEDIAN Gbit/s', 'MIN', 'MAX', 'RUNS'],
        r.summary.map((s) => [s.case, info.get(s.case)!.mtu, info.get(s.case)!.offloads, s.median.toFixed(2), s.min.toFixed(2), s.max.toFixed(2), s.n])));
      console.log(`order per round: ${r.rounds.map((x) => `${x.round}: ${x.order[0]} first`).join('; ')}`);
      for (const [k, v] of Object.entries(r.ratios)) console.log(`${k}: ${v.toFixed(2)}`);
      const med = (n: string) => r.summary.find((s) => s.case === n)?.median ?? NaN;
      const pw = med('podwire (vnet hdr, TSO)');
      console.log(`target >= 12 Gbit/s, >= 0.9 x C forwarder, >= 0.75 x kernel (same node, MTU 1500): ${pw.toFixed(1)} Gbit/s, ${(pw / med('C TAP forwarder (vnet hdr, TSO)')).toFixed(2)} x, ${(pw / med('kernel veth+bridge')).toFixed(2)} x`);
      const vx = med('cross-node podwire VXLAN');
      if (opts.overlays) {
        const cf = r.summary.find((s) => s.case.startsWith('C TAP forwarder (vnet hdr, TSO), MTU '));
        console.log(`target cross-node VXLAN >= 0.85 x kernel VXLAN, >= 0.95 x C forwarder (both at the VXLAN pod MTU): ${(vx / med('cross-node kernel VXLAN (flannel-style nodes)')).toFixed(2)} x, ${(vx / (cf?.median ?? NaN)).toFixed(2)} x`);
      }
      console.log(`up -> ready, 10 pods: ${r.upToReadyMs.map((m) => `${Math.round(m)} ms`).join(', ')} (target < 2000 ms)`);
      console.log(`raw results: ${save(opts.out, 'e2e', r)}`);
    });
  bench.command('overlay')
    .description('one two-node cluster wired each way (same-node bridge, host-gw, VXLAN, IP-in-IP, ClusterIP), podwire beside the kernel, interleaved: TCP with and without offloads, UDP 64 B pps, ping and TCP RR latency, CPU per GB (root)')
    .option('--cases <list>', `comma-separated paths: ${PATHS.join(', ')}; or ${EXTRA_CASES.join(', ')} (podwire on the bridge underlay beside kernel nodes: podwire <-> podwire vs in-process, podwire <-> kernel vs kernel <-> kernel)`, [...PATHS, ...EXTRA_CASES].join(','))
    .option('--duration <s>', 'seconds per iperf3 run', (v) => positiveInt(v, '--duration'), 5)
    .option('--repeat <n>', 'rounds (every case once per round, podwire and kernel of a path back to back)', (v) => positiveInt(v, '--repeat'), 3)
    .option('--service-overlay <overlay>', 'the overlay the ClusterIP case crosses nodes with (vxlan, ipip, host-gw; kernel nodes: vxlan or host-gw)', 'vxlan')
    .option('--quick', 'a smoke run: one round of 2 s runs, fewer pings and round trips')
    .option('--out <dir>', 'where to write the JSON and the SVG chart', '.')
    .action(async (opts: { cases: string; duration: number; repeat: number; serviceOverlay: string; quick?: boolean; out: string }) => {
      const { paths, extra } = parseAllCases(opts.cases);
      if (!['vxlan', 'host-gw', 'ipip'].includes(opts.serviceOverlay)) throw new Error(`--service-overlay: unknown overlay "${opts.serviceOverlay}" (vxlan, ipip, host-gw)`);
      requireRoot('podwire bench overlay');
      const { runOverlay } = await import('../../bench/overlay.ts');
      const { overlayTables, overlayChart } = await import('../../bench/overlay-report.ts');
      const { runMixed, mixedTables, mixedPanel } = await import('../../bench/overlay-mixed.ts');
      const seconds = opts.quick ? 2 : opts.duration;
      const repeat = opts.quick ? 1 : opts.repeat;
      const r = paths.length ? await runOverlay({
        paths,
        seconds,
        repeat,
        pings: opts.quick ? 200 : 1000,
        roundTrips: opts.quick ? 500 : 2000,
        serviceOverlay: opts.serviceOverlay as Overlay,
      }) : undefined;
      const mixed = extra.includes('mixed') ? await runMixed({ seconds, repeat }) : undefined;
      if (r) console.log('\n' + overlayTables(r));
      if (mixed) console.log('\n' + mixedTables(mixed));
      const chart: Chart = r ? overlayChart(r, machineLine()) : { title: 'podwire bench overlay: podwire vs the Linux kernel', subtitle: machineLine(), panels: [] };
      if (mixed) chart.panels.push(mixedPanel(mixed));
      console.log(`\nraw results: ${save(opts.out, 'overlay', { ...r, ...(mixed ? { mixed } : {}) }, renderChart(chart))}`);
    });
  bench.command('cli')
    .description('how fast the CLI answers (spawn to exit): --help, status with no lab, status and status --json with a lab of --pods pods; the compiled CLI beside the tsx-transpiled source and a bare node -e 0 (root)')
    .option('--runs <n>', 'runs of each command per variant (after one warm-up)', (v) => positiveInt(v, '--runs'), 15)
    .option('--pods <n>', 'pods of the running lab', (v) => positiveInt(v, '--pods'), 200)
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { runs: number; pods: number; out: string }) => {
      requireRoot('podwire bench cli');
      const { runCliBench } = await import('../../bench/cli.ts');
      const r = await runCliBench({ runs: opts.runs, pods: opts.pods }, (l) => console.log(l));
      const f = (ms: number) => (ms / 1000).toFixed(3);
      console.log('\n' + table(['COMMAND', 'LAB', 'VARIANT', 'MEDIAN s', 'MIN', 'MAX', 'RUNS'],
        r.cases.map((c) => [c.command, c.lab === 'none' ? 'none' : `${r.pods} pods`, c.variant, f(c.summary.median), f(c.summary.min), f(c.summary.max), c.summary.n])));
      console.log(`podwire up -d of the ${r.pods}-pod lab: ${f(r.labUpMs)} s`);
      console.log(`raw results: ${save(opts.out, 'cli', r)}`);
    });
  bench.command('ingress')
    .description('HTTP (wrk) from a host outside the cluster through the LoadBalancer address and the Ingress controller (nginx) to a pod, beside the same requests straight to the pod from a client pod, interleaved: requests/s, p50/p99 latency, the ratio (root)')
    .option('--duration <s>', 'seconds per wrk run', (v) => positiveInt(v, '--duration'), 10)
    .option('--repeat <n>', 'rounds (both cases once per round, alternating which goes first)', (v) => positiveInt(v, '--repeat'), 3)
    .option('--connections <n>', 'wrk connections', (v) => positiveInt(v, '--connections'), 16)
    .option('--threads <n>', 'wrk threads', (v) => positiveInt(v, '--threads'), 1)
    .option('--body <bytes>', 'response body size', (v) => positiveInt(v, '--body'), 512)
    .option('--quick', 'a smoke run: one round of 2 s runs')
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { duration: number; repeat: number; connections: number; threads: number; body: number; quick?: boolean; out: string }) => {
      requireRoot('podwire bench ingress');
      const { runIngressBench } = await import('../../bench/ingress.ts');
      const r = await runIngressBench({
        seconds: opts.quick ? 2 : opts.duration, repeat: opts.quick ? 1 : opts.repeat,
        connections: opts.connections, threads: opts.threads, bodyBytes: opts.body,
      });
      const client = (c: string) => (c === 'via ingress' ? r.clients.viaIngress : r.clients.direct);
      console.log('\n' + table(['CASE', 'CLIENT', 'REQ/S (median)', 'P50 ms', 'P99 ms', 'RUNS'],
        r.summary.map((s) => [s.case, client(s.case), s.requestsPerSec.toFixed(0), s.p50Ms.toFixed(2), s.p99Ms.toFixed(2), s.n])));
      console.log(`via ingress / direct to pod: requests/s ${r.ratios.requestsPerSec.toFixed(2)} x, p50 ${r.ratios.p50.toFixed(2)} x, p99 ${r.ratios.p99.toFixed(2)} x`);
      console.log(`raw results: ${save(opts.out, 'ingress', r)}`);
    });
  bench.command('scale')
    .description('labs of growing size (default 3, 100, 1000 pods on 2, 10, 50 nodes), each brought up by `podwire up`: time to ready, time from SIGTERM to exit, RSS and host memory, idle CPU, cross-node iperf3 and ping p50/p99, what was left behind (root)')
    .option('--pods <list>', 'comma-separated pod counts, one lab each', '3,100,1000')
    .option('--nodes <list>', 'comma-separated node counts, one per --pods value (or one for all)', '2,10,50')
    .option('--idle <s>', 'seconds the idle CPU is sampled over', (v) => positiveInt(v, '--idle'), 10)
    .option('--duration <s>', 'seconds of iperf3', (v) => positiveInt(v, '--duration'), 5)
    .option('--pings <n>', 'pings (10 ms apart) for p50/p99', (v) => positiveInt(v, '--pings'), 500)
    .option('--quick', 'a smoke run: 2 s idle, 1 s iperf3, 50 pings')
    .option('--out <dir>', 'where to write the JSON and the SVG chart', '.')
    .action(async (opts: { pods: string; nodes: string; idle: number; duration: number; pings: number; quick?: boolean; out: string }) => {
      const { parseScaleSizes } = await import('../../bench/scale-topology.ts');
      const sizes = parseScaleSizes(opts.pods, opts.nodes);
      requireRoot('podwire bench scale');
      const { runScale } = await import('../../bench/scale.ts');
      const { scaleTables, scaleChart } = await import('../../bench/scale-math.ts');
      const r = await runScale({
        sizes,
        idleSeconds: opts.quick ? 2 : opts.idle,
        iperfSeconds: opts.quick ? 1 : opts.duration,
        pings: opts.quick ? 50 : opts.pings,
        log: (l) => console.log(l),
      });
      console.log('\n' + scaleTables(r));
      console.log(`\nraw results: ${save(opts.out, 'scale', r, renderChart(scaleChart(r, machineLine())))}`);
      if (r.labs.some((l) => l.error || l.leftovers?.length)) process.exitCode = 1;
    });
  return bench;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a whole number >= 1, got "${v}"`);
  return n;
}
