// What a userspace hop costs in latency, whoever writes it: ping and TCP
// request/response p50 between two pods on one node, for
//   kernel   veth + bridge (bench/baseline.ts withKernelBridge): the reply is
//            built in softirq inside the sender's own system call, so
//            nothing waits for a wake-up;
//   tapfwd   the minimal C TAP<->TAP forwarder (bench/c/tapfwd.c: poll,
//            read, write), blocked in poll between frames;
//   podwire  a same-node pair in a podwire lab (bench/overlay.ts casePlan).
// Each is measured at two ping spacings: 2 ms (bench overlay's: the
// forwarder sleeps between pings) and 0.2 ms (podwire's loop is still
// looking after the previous reply: engine-io-loop.ts SPIN_AFTER_TRAFFIC_MS).
// Contenders alternate per round; /proc/loadavg is printed with each line.
//
//   sudo flock /tmp/pw-netns.lock npx tsx bench/latency-floor.ts [--rounds 3] [--count 500]
import { readFileSync } from 'node:fs';
import { withKernelBridge, withCForwarder, type RefPair } from './baseline.ts';
import { casePlan, withLab, withSignals } from './overlay.ts';
import { pingLatency, tcpRequestResponse, type Endpoints } from './probes.ts';
import { percentile } from './stats.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('--rounds', 3);
const COUNT = arg('--count', 500);
const SPACINGS = [0.002, 0.0002] as const;
const CONTENDERS = ['kernel', 'tapfwd', 'podwire'] as const;
type Contender = (typeof CONTENDERS)[number];
type Figures = Record<string, number>;

async function probe(e: Endpoints): Promise<Figures> {
  const out: Figures = {};
  for (const s of SPACINGS) out[`ping@${s * 1000}ms`] = (await pingLatency(e.clientNs, e.target, COUNT, s)).p50Us;
  out.rr = (await tcpRequestResponse(e, 7007, COUNT)).p50Us;
  return out;
}

const pair = (p: RefPair): Endpoints => ({ clientNs: p.a, serverNs: p.b, serverIp: p.bIp, target: p.bIp });

async function one(c: Contender): Promise<Figures> {
  if (c === 'kernel') return withKernelBridge({}, (p) => probe(pair(p)));
  if (c === 'tapfwd') {
    let f: Figures = {};
    await withCForwarder({}, async (p) => { f = await probe(pair(p)); });
    return f;
  }
  const plan = casePlan('same-node', 'podwire', true, 'lf', 'vxlan');
  const [a, a2] = plan.nodes[0].pods;
  return withLab(plan, () => probe({ clientNs: a.namespace, serverNs: a2.namespace, serverIp: a2.ip, target: a2.ip }));
}

async function main(): Promise<void> {
  const all: Record<Contender, Figures[]> = { kernel: [], tapfwd: [], podwire: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
    for (const c of order) {
      const f = await one(c);
      all[c].push(f);
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      console.log(`round ${r + 1} ${c.padEnd(8)} ${Object.entries(f).map(([k, v]) => `${k} ${v.toFixed(0)} µs`).join('  ')}  (loadavg ${load})`);
    }
  }
  console.log(`\nmedians of ${ROUNDS} rounds (p50 of ${COUNT} each), and each over the kernel's:`);
  const keys = Object.keys(all.kernel[0]);
  const med = (c: Contender, k: string) => percentile(all[c].map((f) => f[k]), 50);
  for (const c of CONTENDERS) {
    console.log(`${c.padEnd(8)} ${keys.map((k) => `${k} ${med(c, k).toFixed(0)} µs (${(med(c, k) / med('kernel', k)).toFixed(2)}x)`).join('  ')}`);
  }
}

await withSignals(main);
