// `podwire bench ingress`: HTTP through the Ingress controller beside the
// same requests straight to the pod, in one lab, interleaved round by round
// (the machine is noisy: only the ratio measured together means anything).
// wrk (Debian's) runs where each path starts:
//   via ingress: the external host bi-laptop (outside the cluster, on the
//                underlay bridge) -> the controller Service's address from
//                cluster.loadBalancerPool (announced by the node, Service
//                DNAT in podwire) -> nginx in the controller pod -> the web
//                Service's endpoint (nginx picks it, as ingress-nginx does; a
//                second crossing of podwire) -> pod
//   direct:      the client pod bi-client -> the same pod's address and
//                port (an external host has no route to pod addresses)
// Reported: requests/s and wrk's p50/p99 latency per case, medians over the
// rounds, and via/direct ratios. No pass/fail.
import { netnsExec, netnsRun } from '../src/io/netns.ts';
import { planTopology, type LabPlan } from '../src/model/topology.ts';
import { Lab } from '../src/lab/lab.ts';
import { waitForLine, stop } from './child.ts';

const UNDERLAY = '172.30.254.0/24';
/** The pool's first address: the controller's Service is the bench lab's only LoadBalancer. */
export const INGRESS_BENCH_LB_IP = '172.30.254.200';
const HOST = 'bench.example';
const BACKEND_PORT = 8080;

/** The backend: a fixed small body, keep-alive (as a typical web pod). */
const BACKEND_JS = String.raw`
const http = require('http');
const body = Buffer.alloc(Number(process.argv[1]), 120);
http.createServer((req, res) => { res.writeHead(200, { 'content-length': body.length }); res.end(body); })
  .listen(${BACKEND_PORT}, '0.0.0.0', () => console.log('listening'));
`;

export interface IngressBenchOptions { seconds: number; repeat: number; connections: number; threads: number; bodyBytes: number }
export interface WrkResult { requestsPerSec: number; p50Ms: number; p99Ms: number; errors: number }
export interface IngressBenchSample extends WrkResult { case: 'via ingress' | 'direct to pod'; round: number; order: number }
export interface IngressBenchReport {
  options: IngressBenchOptions;
  /** where wrk ran for each case */
  clients: { viaIngress: string; direct: string };
  path: { viaIngress: string; direct: string };
  samples: IngressBenchSample[];
  summary: { case: string; requestsPerSec: number; p50Ms: number; p99Ms: number; n: number }[];
  /** via ingress / direct: requests/s (below 1: the Ingress costs throughput), p50 and p99 (above 1: it adds latency) */
  ratios: { requestsPerSec: number; p50: number; p99: number };
}

/** The bench lab: one podwire node with the client, the web pod and the controller; an external host on the underlay. */
export function ingressBenchPlan(): LabPlan {
  return planTopology({
    cluster: { name: 'pwbench-ing', ingress: 'nginx', underlayCIDR: UNDERLAY, loadBalancerPool: '172.30.254.200/30', dns: false },
    external: [{ name: 'bi-laptop' }],
    nodes: [{ name: 'n1', pods: ['bi-client', { name: 'bi-web', labels: { app: 'web' } }] }],
    services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: BACKEND_PORT }] }],
    ingresses: [{ name: 'bench', rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] }],
  }, 'bench ingress');
}

const toMs = (v: string, unit: string) => Number(v) * ({ us: 1e-3, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);

/** Requests/s and the 50th/99th percentile latency of wrk's --latency output. */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const pct = (p: number) => {
    const m = new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const errs = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!rps) throw new Error(`wrk printed no Requests/sec: ${out}`);
  return {
    requestsPerSec: Number(rps[1]), p50Ms: pct(50), p99Ms: pct(99),
    errors: (errs ? Number(errs[1]) : 0) + (sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0),
  };
}

async function wrk(ns: string, url: string, o: IngressBenchOptions): Promise<WrkResult> {
  const r = await netnsRun(ns, ['wrk', `-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '-H', `Host: ${HOST}`, url], { timeoutMs: (o.seconds + 30) * 1000 });
  return parseWrk(r.stdout);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

export async function runIngressBench(o: IngressBenchOptions, log: (line: string) => void = console.log): Promise<IngressBenchReport> {
  const plan = ingressBenchPlan();
  const lab = await Lab.up(plan);
  const client = plan.nodes[0].pods.find((p) => p.name === 'bi-client')!;
  const web = plan.nodes[0].pods.find((p) => p.name === 'bi-web')!;
  const laptop = plan.external!.find((h) => h.name === 'bi-laptop')!;
  const lbIp = plan.services.find((s) => s.name === 'ingress-nginx-controller')!.loadBalancer!.ip!;
  const backend = netnsExec(web.namespace, [process.execPath, '-e', BACKEND_JS, String(o.bodyBytes)]);
  try {
    await waitForLine(backend, /listening/, 10_000);
    const urls = { 'via ingress': `http://${lbIp}/`, 'direct to pod': `http://${web.ip}:${BACKEND_PORT}/` } as const;
    const from = { 'via ingress': laptop.netns, 'direct to pod': client.namespace } as const;
    log(`via ingress: wrk in the external host ${laptop.name} (${laptop.ip}) -> ${urls['via ingress']}; direct to pod: wrk in the client pod ${client.name} (${client.ip}) -> ${urls['direct to pod']}`);
    // warm up both paths (ARP, conntrack, nginx's upstream keepalive)
    for (const c of ['via ingress', 'direct to pod'] as const) await wrk(from[c], urls[c], { ...o, seconds: 1 });
    const samples: IngressBenchSample[] = [];
    for (let round = 1; round <= o.repeat; round++) {
      // the Ingress first in odd rounds, the pod first in even ones
      const order = (round % 2 ? ['via ingress', 'direct to pod'] : ['direct to pod', 'via ingress']) as (keyof typeof urls)[];
      for (const [i, c] of order.entries()) {
        const r = await wrk(from[c], urls[c], o);
        samples.push({ case: c, round, order: i + 1, ...r });
        log(`round ${round}/${o.repeat} ${c}: ${r.requestsPerSec.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ''}`);
      }
    }
    const summary = (['via ingress', 'direct to pod'] as const).map((c) => {
      const s = samples.filter((x) => x.case === c);
      return { case: c, requestsPerSec: median(s.map((x) => x.requestsPerSec)), p50Ms: median(s.map((x) => x.p50Ms)), p99Ms: median(s.map((x) => x.p99Ms)), n: s.length };
    });
    const [via, direct] = summary;
    return {
      options: o,
      clients: { viaIngress: `external host ${laptop.name} (${laptop.ip})`, direct: `client pod ${client.name} (${client.ip})` },
      path: {
        viaIngress: `external host -> ${urls['via ingress']} (LoadBalancer pool address, announced by node n1; Service DNAT) -> nginx in ingress-nginx/ingress-nginx-controller -> ${web.ip}:${BACKEND_PORT} (web's endpoint) -> node backend`,
        direct: `client pod -> ${urls['direct to pod']} -> node backend`,
      },
      samples, summary,
      ratios: { requestsPerSec: via.requestsPerSec / direct.requestsPerSec, p50: via.p50Ms / direct.p50Ms, p99: via.p99Ms / direct.p99Ms },
    };
  } finally {
    await stop(backend);
    await lab.down();
  }
}
