// How long should the forwarding loop keep looking after traffic before it
// blocks (engine-io-loop.ts SPIN_AFTER_TRAFFIC_MS)? For each window given,
// rewrites the constant in the BUILT dist/ file, brings up a same-node
// 2-pod lab (`podwire up`, a child process) and measures ping p50 (2 ms
// apart) and TCP request/response p50 (bench/probes.ts), and the podwire
// process's CPU while the ping runs. Windows alternate, so drifting load
// hits them all; /proc/loadavg is printed beside each line. Restores the
// built constant at the end (rebuild to be sure: `npm run build`).
//
//   sudo flock /tmp/pw-netns.lock npx tsx bench/spin-ab.ts 0 0.2 1 3 [--rounds 2]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/io/netns.ts';
import { pingLatency, tcpRequestResponse } from './probes.ts';
import { waitForLine, stop } from './child.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PODWIRE = join(REPO, 'bin', 'podwire.js');
const BUILT = join(REPO, 'dist', 'src', 'dataplane', 'engine-io-loop.js');
const CONST = /^export const SPIN_AFTER_TRAFFIC_MS = (.*);$/m;

function setSpin(ms: string): void {
  writeFileSync(BUILT, readFileSync(BUILT, 'utf8').replace(CONST, `export const SPIN_AFTER_TRAFFIC_MS = ${ms};`));
}
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function one(spin: string): Promise<string> {
  setSpin(spin);
  const dir = mkdtempSync(join(tmpdir(), 'pw-spin-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, 'cluster:\n  name: spinab\n  dns: false\nnodes:\n  - name: n1\n    pods: [spinab-a, spinab-b]\n');
  const child = spawn(process.execPath, [PODWIRE, 'up', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForLine(child, /^ready\b/m, 60_000);
    const st = JSON.parse((await run(process.execPath, [PODWIRE, 'status', '--json', '--name', 'spinab'])).stdout) as { pods: { netns: string; ip: string }[] };
    const [a, b] = st.pods;
    await pingLatency(a.netns, b.ip, 3, 0.2);
    const c0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    const ping = await pingLatency(a.netns, b.ip, 1000);
    const cpuPct = ((cpuSeconds(child.pid!) - c0) / ((performance.now() - t0) / 1000)) * 100;
    const rr = await tcpRequestResponse({ clientNs: a.netns, serverNs: b.netns, serverIp: b.ip, target: b.ip }, 5301, 2000);
    return `spin ${spin.padStart(4)} ms: ping p50 ${ping.p50Us} µs p99 ${ping.p99Us} µs, CPU during ping ${cpuPct.toFixed(0)} % of a core; RR p50 ${rr.p50Us.toFixed(1)} µs p99 ${rr.p99Us.toFixed(1)} µs; loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`;
  } finally {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const r = args.indexOf('--rounds');
  const rounds = r >= 0 ? Number(args.splice(r, 2)[1]) : 1;
  const spins = args.length ? args : ['0', '0.2', '1', '3'];
  const original = CONST.exec(readFileSync(BUILT, 'utf8'))?.[1];
  if (original === undefined) throw new Error(`${BUILT}: no SPIN_AFTER_TRAFFIC_MS (run npm run build)`);
  try {
    for (let i = 0; i < rounds; i++) {
      for (const s of i % 2 ? [...spins].reverse() : spins) console.log(await one(s));
    }
  } finally {
    setSpin(original);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
