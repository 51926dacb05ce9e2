// `podwire apply` at scale, in process (no root): 10,000 Services with
// 100,000 endpoints (10 each), then one endpoint change, through every step
// the lab takes except the sockets: parsing the file, the control socket's
// JSON, planning (stable allocation, checks), the per-node frontend list
// (serviceFrontends), the worker message (structured clone), and programming
// a Dataplane as a diff (service-sync.ts). Figures, never pass/fail.
//   npx tsx bench/apply.ts [--services N] [--per K] [--selector]
// Issue targets: apply of 10k Services / 100k endpoints <= 2 s; one endpoint change reaching the data plane <= 10 ms.
import { planTopology, type LabPlan } from '../src/model/topology.ts';
import { parseApplyFile, planApply, serviceKey, type ApplyInput } from '../src/model/apply.ts';
import { serviceFrontends } from '../src/lab/lab.ts';
import { Dataplane, MTU_SLOT_SIZE } from '../src/dataplane/dataplane.ts';
import { NodeServices } from '../src/dataplane/service-sync.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--services', 10_000);
const PER = arg('--per', 10);
const SELECTOR = process.argv.includes('--selector');
const NODES = 4, PODS_PER_NODE = 250, GROUPS = (NODES * PODS_PER_NODE) / PER;

const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number) => `${x.toFixed(1)} ms`.padStart(10);
function time<T>(label: string, fn: () => T, rows: [string, number][]): T {
  const t0 = performance.now();
  const r = fn();
  rows.push([label, ms(t0)]);
  return r;
}

// the lab: 4 nodes x 250 pods; pod i is in label group i % GROUPS (PER pods a group)
const plan: LabPlan = planTopology({
  cluster: { dns: false, serviceCIDR: '10.96.0.0/12', serviceCapacity: 16384, serviceMaxBackends: 64 },
  nodes: Array.from({ length: NODES }, (_, n) => ({
    name: `n${n + 1}`,
    pods: Array.from({ length: PODS_PER_NODE }, (_, p) => ({ name: `p${n}-${p}`, labels: { grp: `g${(n * PODS_PER_NODE + p) % GROUPS}` } })),
  })),
}, 'bench');
const pods = plan.nodes.flatMap((n) => n.pods);
const node = plan.nodes[0];

/** Service i: selector grp g(i % GROUPS), or selector-less with an EndpointSlice of those pods. */
function manifests(): string {
  const docs: string[] = [];
  for (let i = 0; i < N; i++) {
    const g = i % GROUPS;
    if (SELECTOR) {
      docs.push(`apiVersion: v1\nkind: Service\nmetadata: { name: s${i} }\nspec:\n  selector: { grp: g${g} }\n  ports: [{ name: http, port: 80, targetPort: 8080 }]\n`);
      continue;
    }
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: { name: s${i} }\nspec:\n  ports: [{ name: http, port: 80 }]\n`);
    const eps = pods.filter((_, k) => k % GROUPS === g).map((p) => `  - addresses: [${p.ip}]\n    conditions: { ready: true }\n`).join('');
    docs.push(`apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s${i}-1\n  labels: { kubernetes.io/service-name: s${i} }\naddressType: IPv4\nports: [{ name: http, port: 8080 }]\nendpoints:\n${eps}`);
  }
  return docs.join('---\n');
}

const dp = new Dataplane({ slots: 4, slotSize: MTU_SLOT_SIZE, maxPorts: 8, svcCapacity: plan.serviceCapacity, svcMaxBackends: plan.serviceMaxBackends });
const ns = new NodeServices(dp);

console.log(`podwire apply at scale: ${N} Services x ${PER} endpoints (${SELECTOR ? 'selectors' : 'EndpointSlices'}), ${pods.length} pods on ${NODES} nodes; one node's data plane programmed`);
const rows: [string, number][] = [];
const text = time('generate the YAML (not part of apply)', manifests, []);
console.log(`file: ${(text.length / 1e6).toFixed(1)} MB`);
const input = time('CLI: read + check the file (YAML parse, manifests)', () => parseApplyFile(text, 'bench.yaml'), rows);
const wire = time('control socket: JSON.stringify (CLI) + JSON.parse (lab)', () => JSON.parse(JSON.stringify({ cmd: 'apply', input })).input as ApplyInput, rows);
const change = time('lab: plan (stable allocation, endpoints, checks)', () => planApply(plan, wire), rows);
const next: LabPlan = { ...plan, services: change.services };
const fronts = time('lab: serviceFrontends(plan, node)', () => serviceFrontends(next, node), rows);
const msg = time('worker message: structured clone', () => structuredClone({ type: 'services', node: node.name, services: fronts }), rows);
const r = time('worker: programServices (diff, 10k addService)', () => ns.sync(msg.services), rows);
const inProcess = rows.slice(2).reduce((s, [, x]) => s + x, 0);
for (const [l, x] of rows) console.log(`${fmt(x)}  ${l}`);
console.log(`${fmt(inProcess)}  = lab side (plan + frontends + message + programming), target <= 2000 ms`);
console.log(`${fmt(rows.reduce((s, [, x]) => s + x, 0))}  = with the CLI's parse and the JSON`);
console.log(`programmed: ${r.added} frontends, ${dp.ex.svcFrontendCount()} in the table; ${change.services.reduce((s, v) => s + v.endpoints.length, 0)} endpoints`);
plan.services = change.services;

// one endpoint change: Service s42 loses one endpoint (a selector-less Service: a new EndpointSlice for it)
console.log('\none endpoint change (Service s42 loses one endpoint), against the 10k above; median of 20:');
const s42 = plan.services.find((s) => s.name === 's42')!;
const samples: Record<string, number[]> = {};
const add = (k: string, x: number) => (samples[k] ??= []).push(x);
for (let round = 0; round < 20; round++) {
  const keep = s42.endpoints.filter((_, k) => k !== round % s42.endpoints.length);
  const one: ApplyInput = {
    services: [{ ...s42, selector: undefined, endpoints: keep.map((e) => ({ ip: e.ip, ready: true })) }],
    origins: ['document 1 (Service s42)'], source: 'one.yaml',
  };
  const t0 = performance.now();
  const w = JSON.parse(JSON.stringify({ input: one })).input as ApplyInput;
  const t1 = performance.now();
  const c = planApply(plan, w);
  const t2 = performance.now();
  const touched = new Set(c.touched);
  const part = serviceFrontends({ ...plan, services: c.services.filter((s) => touched.has(serviceKey(s))) }, node);
  const m = structuredClone({ services: part, only: c.touched });
  const t3 = performance.now();
  const res = ns.sync(m.services, m.only);
  const t4 = performance.now();
  if (res.updated !== 1) throw new Error(`expected one frontend updated, got ${JSON.stringify(res)}`);
  add('control socket JSON', t1 - t0); add('plan', t2 - t1); add('frontends + message', t3 - t2); add('programming', t4 - t3); add('total', t4 - t0);
  // and back, so every round changes one endpoint
  plan.services = planApply(plan, { ...one, services: [{ ...one.services[0], endpoints: s42.endpoints.map((e) => ({ ip: e.ip, ready: true })) }] }).services;
  ns.sync(serviceFrontends({ ...plan, services: [plan.services.find((s) => s.name === 's42')!] }, node), ['default/s42']);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [k, xs] of Object.entries(samples)) console.log(`${fmt(median(xs))}  ${k}`);
console.log(`target: an endpoint change reaching the data plane <= 10 ms (here: everything but the socket round trip and the worker's wake-up)`);
