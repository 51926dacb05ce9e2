// podwire bench scale: labs of growing size (bench/scale-topology.ts), each
// brought up by the compiled CLI as a user would (`podwire up FILE`, in the
// foreground, PODWIRE_DEBUG on so it prints its phases) and measured from
// outside: time to its "ready" line, its resident memory and the host's
// (MemAvailable before and after: namespaces and TAPs live in the kernel),
// its CPU while idle (utime+stime of every thread, /proc/PID/stat), ping and
// iperf3 between a pod on the first node and a pod on the last, then the
// time from SIGTERM to the process's exit, and whether anything of the lab
// is left on the host. A lab that fails is reported as such and the next
// one runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../src/util/package-files.ts';
import { netnsList } from '../src/io/netns.ts';
import { scaleTopology, type ScaleLabSize } from './scale-topology.ts';
import { pingLatency, tcpThroughput } from './probes.ts';
import { parsePhaseLines, cpuPercent, type ScaleLabResult, type ScaleReport } from './scale-math.ts';

export interface ScaleOptions {
  sizes: ScaleLabSize[];
  /** seconds the idle CPU is sampled over */
  idleSeconds: number;
  pings: number;
  iperfSeconds: number;
  /** how long `up` may take before the lab counts as failed */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

const CLK_TCK = 100;

/** utime + stime of every thread of `pid`, seconds (/proc/PID/stat fields 14 and 15). */
export function processCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the command name may hold spaces
  return Number(f[11]) + Number(f[12]);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function memAvailableBytes(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StatusPod { name: string; netns: string; node: string; ip: string }

/** The up process: its output kept (stdout for "ready", stderr for the phases). */
class UpProcess {
  out = '';
  err = '';
  exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => { this.out += d; });
    child.stderr!.on('data', (d: Buffer) => { this.err += d; });
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  async ready(timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    while (!/^ready: /m.test(this.out)) {
      if (!this.running) throw new Error(`podwire up exited (${this.child.exitCode ?? this.child.signalCode}) before ready: ${tail(this.err || this.out)}`);
      if (performance.now() - t0 > timeoutMs) throw new Error(`podwire up: not ready within ${timeoutMs / 1000} s: ${tail(this.err)}`);
      await sleep(10);
    }
  }
}

const tail = (s: string) => s.trim().split('\n').slice(-5).join(' | ');

export async function runScale(o: ScaleOptions): Promise<ScaleReport> {
  if (!existsSync(packageFile('dist/src/cli/main.js'))) throw new Error('bench scale: the compiled CLI is missing: npm run build');
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-scale-'));
  // a state directory of our own: the labs started here are the only ones their CLI sees
  const env = { ...process.env, PODWIRE_STATE_DIR: join(dir, 'state'), PODWIRE_DEBUG: '1' };
  const cli = (args: string[]) => spawnSync(process.execPath, [packageFile('bin/podwire.js'), ...args], { env, encoding: 'utf8', maxBuffer: 256 << 20 });
  const labs: ScaleLabResult[] = [];
  try {
    for (const [i, size] of o.sizes.entries()) {
      const step = (what: string) => log(`[lab ${i + 1}/${o.sizes.length}] ${size.pods} pods on ${size.nodes} nodes: ${what}`);
      const name = `scale${size.pods}`;
      const r: ScaleLabResult = { pods: size.pods, nodes: size.nodes, loadavg: loadavg() };
      labs.push(r);
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, scaleTopology(size, name));
      const memBefore = memAvailableBytes();
      step('podwire up ...');
      const t0 = performance.now();
      const up = new UpProcess(spawn(process.execPath, [packageFile('bin/podwire.js'), 'up', file], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
      let namespaces: string[] = [];
      try {
        await up.ready(o.readyTimeoutMs ?? 180_000);
        r.readyMs = performance.now() - t0;
        r.upPhases = parsePhaseLines(up.err, 'up');
        step(`ready in ${(r.readyMs / 1000).toFixed(2)} s`);
        await sleep(1000); // let what `ready` set in motion settle before memory and CPU are read
        const pid = up.child.pid!;
        r.rssBytes = rssBytes(pid);
        r.hostMemBytes = memBefore - memAvailableBytes();
        const st = cli(['status', '--json', '--name', name]);
        if (st.status !== 0) throw new Error(`podwire status failed: ${tail(st.stderr)}`);
        const status = JSON.parse(st.stdout) as { pods: StatusPod[]; memory?: ScaleLabResult['memory'] };
        if (status.memory) r.memory = status.memory;
        namespaces = status.pods.map((p) => p.netns);
        step(`idle CPU over ${o.idleSeconds} s ...`);
        const c0 = processCpuTicks(pid);
        const w0 = performance.now();
        await sleep(o.idleSeconds * 1000);
        r.idleCpuPct = cpuPercent(processCpuTicks(pid) - c0, CLK_TCK, (performance.now() - w0) / 1000);
        // a pod on the first node and one on the last: the path crosses the overlay
        const first = status.pods.find((p) => p.node === 'n1' && p.name.startsWith('sc-'));
        const last = status.pods.find((p) => p.node === `n${size.nodes}` && p.name.startsWith('sc-'));
        if (!first || !last) throw new Error('status lists no pod on the first or the last node');
        r.probe = { client: first.name, server: last.name };
        step(`ping ${first.name} -> ${last.name} (${o.pings}) ...`);
        try {
          const p = await pingLatency(first.netns, last.ip, o.pings, 0.01);
          r.pingP50Us = p.p50Us;
          r.pingP99Us = p.p99Us;
        } catch (e) { (r.errors ??= []).push((e as Error).message); }
        step(`iperf3 ${first.name} -> ${last.name} (${o.iperfSeconds} s) ...`);
        try {
          r.tcpGbps = (await tcpThroughput({ clientNs: first.netns, serverNs: last.netns, serverIp: last.ip, target: last.ip }, 5201, o.iperfSeconds)).gbps;
        } catch (e) { (r.errors ??= []).push((e as Error).message); }
        step('SIGTERM ...');
        const t1 = performance.now();
        up.child.kill('SIGTERM');
        await up.exited;
        r.downMs = performance.now() - t1;
        r.downPhases = parsePhaseLines(up.err, 'down');
        step(`down in ${(r.downMs / 1000).toFixed(2)} s`);
      } catch (e) {
        r.error = (e as Error).message;
        step(`FAILED: ${r.error}`);
      } finally {
        if (up.running) {
          up.child.kill('SIGTERM');
          const killer = setTimeout(() => up.child.kill('SIGKILL'), 30_000);
          await up.exited;
          clearTimeout(killer);
        }
        // what the lab left behind: nothing, when its teardown is right; removed here either way
        const now = new Set(await netnsList());
        const expected = namespaces.length ? namespaces : Array.from({ length: size.pods }, (_, k) => `pw-sc-${k}`);
        r.leftovers = expected.filter((n) => now.has(n));
        if (r.leftovers.length) step(`left behind: ${r.leftovers.length} namespace(s); podwire down removes them`);
        cli(['down', '--name', name]);
      }
    }
    return { options: { idleSeconds: o.idleSeconds, pings: o.pings, iperfSeconds: o.iperfSeconds }, labs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
