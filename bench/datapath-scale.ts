// Does a packet's cost depend on the lab's size? Brings up a 2-pod lab
// (one pod on each of two nodes) and a big one (default 1000 pods on 50
// nodes) as a user would (`podwire up`, a child process), alternately, and
// measures in each: the podwire process's idle CPU (utime + stime of every
// thread, /proc/PID/stat, over --idle seconds), ping p50/p99 and iperf3 TCP
// between a pod on the first node and a pod on the second. Prints one JSON
// line per lab run and the big/small ratios, with /proc/loadavg beside each.
//
//   sudo flock /tmp/pw-netns.lock npx tsx bench/datapath-scale.ts [--pods 1000] [--nodes 50] [--rounds 2]
//
// Needs `npm run build` first (the lab runs dist/ through bin/podwire.js).
// Pod names start with "dps" so their namespaces (pw-dps...) are this
// script's own; every lab it starts it stops, even on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/io/netns.ts';
import { pingLatency, tcpThroughput, type LatencyResult } from './probes.ts';
import { waitForLine, stop } from './child.ts';
import { median } from './stats.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PODWIRE = join(REPO, 'bin', 'podwire.js');

interface Options { pods: number; nodes: number; rounds: number; idleSeconds: number; pings: number; seconds: number }

/** A topology of `pods` pods spread evenly over `nodes` podwire nodes (in-process underlay, VXLAN). */
export function scaleTopology(name: string, pods: number, nodes: number): string {
  const lines = ['cluster:', `  name: ${name}`, 'nodes:'];
  for (let n = 0; n < nodes; n++) {
    const here: string[] = [];
    for (let p = n; p < pods; p += nodes) here.push(`dps-${name}-${p}`);
    lines.push(`  - name: n${n + 1}`, `    pods: [${here.join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

interface PodInfo { name: string; netns: string; ip: string; node: string }

interface LabRun {
  lab: string; pods: number; nodes: number; readyMs: number;
  idleCpuPct: number; ping: LatencyResult; tcpGbps: number;
  loop?: { rounds: number; readyFds: number; watchedFds: number; sleeps: number };
  loadavg: string;
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').trim();
}

/** utime + stime of every thread of `pid`, seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 of proc(5), counted from the state (field 3) here
  return (Number(f[11]) + Number(f[12])) / 100;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(lab: string): Promise<{ pods: PodInfo[]; dataplane?: { loop?: LabRun['loop'] } }> {
  const { stdout } = await run(process.execPath, [PODWIRE, 'status', '--json', '--name', lab], { timeoutMs: 60_000 });
  return JSON.parse(stdout);
}

async function measureLab(lab: string, pods: number, nodes: number, o: Options, log: (s: string) => void): Promise<LabRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-dps-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, scaleTopology(lab, pods, nodes));
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [PODWIRE, 'up', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForLine(child, /^ready\b/m, 300_000);
    const readyMs = performance.now() - t0;
    log(`${lab}: ready in ${(readyMs / 1000).toFixed(1)} s`);
    const st = await status(lab);
    const a = st.pods.find((p) => p.node === 'n1')!;
    const b = st.pods.find((p) => p.node === 'n2')!;
    // ARP, MAC learning and the first flow out of the way, then let it settle
    await pingLatency(a.netns, b.ip, 3, 0.2);
    await sleep(2000);
    const c0 = cpuSeconds(child.pid!);
    await sleep(o.idleSeconds * 1000);
    const idleCpuPct = ((cpuSeconds(child.pid!) - c0) / o.idleSeconds) * 100;
    const load = loadavg();
    const ping = await pingLatency(a.netns, b.ip, o.pings);
    const tcp = await tcpThroughput({ clientNs: a.netns, serverNs: b.netns, serverIp: b.ip, target: b.ip }, 5201, o.seconds);
    const loop = (await status(lab)).dataplane?.loop;
    const r: LabRun = { lab, pods, nodes, readyMs, idleCpuPct, ping, tcpGbps: tcp.gbps, ...(loop ? { loop } : {}), loadavg: load };
    log(JSON.stringify(r));
    return r;
  } finally {
    await stop(child);
    // a lab that did not clean up after itself (killed): its own down, by name
    await run(process.execPath, [PODWIRE, 'down', '--name', lab], { timeoutMs: 120_000 }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): Options {
  const o: Options = { pods: 1000, nodes: 50, rounds: 2, idleSeconds: 10, pings: 500, seconds: 4 };
  const keys: Record<string, keyof Options> = { '--pods': 'pods', '--nodes': 'nodes', '--rounds': 'rounds', '--idle': 'idleSeconds', '--pings': 'pings', '--seconds': 'seconds' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = keys[argv[i]];
    const v = Number(argv[i + 1]);
    if (!k || !Number.isInteger(v) || v <= 0) throw new Error(`usage: datapath-scale.ts [--pods N] [--nodes N] [--rounds N] [--idle S] [--pings N] [--seconds S] (at ${argv[i]})`);
    o[k] = v;
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string) => console.log(s);
  const small: LabRun[] = [];
  const big: LabRun[] = [];
  for (let r = 0; r < o.rounds; r++) {
    // alternate which goes first, so a drift of the machine's load hits both
    const order = r % 2 === 0 ? ['small', 'big'] : ['big', 'small'];
    for (const which of order) {
      if (which === 'small') small.push(await measureLab('dpss', 2, 2, o, log));
      else big.push(await measureLab('dpsb', o.pods, o.nodes, o, log));
    }
  }
  const m = (xs: LabRun[], f: (x: LabRun) => number) => median(xs.map(f));
  const line = (label: string, f: (x: LabRun) => number, unit: string) =>
    console.log(`${label.padEnd(22)} 2 pods: ${m(small, f).toFixed(2)} ${unit}   ${o.pods} pods: ${m(big, f).toFixed(2)} ${unit}   ratio ${(m(big, f) / m(small, f)).toFixed(2)}`);
  console.log(`\nmedians of ${o.rounds} round(s); loadavg per run: ${[...small, ...big].map((x) => `${x.lab} ${x.loadavg.split(' ').slice(0, 3).join(' ')}`).join('; ')}`);
  line('ping p50', (x) => x.ping.p50Us, 'µs');
  line('ping p99', (x) => x.ping.p99Us, 'µs');
  line('iperf3 TCP', (x) => x.tcpGbps, 'Gbit/s');
  line('idle CPU', (x) => x.idleCpuPct, '% of a core');
  line('up to ready', (x) => x.readyMs / 1000, 's');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
