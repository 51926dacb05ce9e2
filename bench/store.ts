// `podwire bench store`: how fast a change written to the shared store
// reaches every host's data plane. Three podwire processes, one node each
// (`up --node nX --store`), play three hosts on this machine: their node
// addresses are 127.0.0.1-3 (VXLAN between loopback addresses), etcd listens
// on 127.0.0.1 at a free port. Measured, from the moment the change is
// handed to the store client until the last host has programmed it: each
// host logs "store: applied N Service(s)" once its data plane acknowledged
// the change (read here as the line arrives, no polling to load the hosts),
// then every host's WASM tables are read to check they do hold it:
//   - `apply --store` of SERVICES Services selecting pods (planning against
//     the store's lab, the etcd transactions, each host's watch, its apply
//     and the programming of its data plane);
//   - one endpoint change: a selector-less Service whose EndpointSlice
//     moves from one pod to another.
// Figures, never pass/fail; the goals (1 s and 100 ms) are printed beside them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseApplyFile } from '../src/model/apply.ts';
import { applyToStore } from '../src/store/store-apply.ts';
import { requestControl } from '../src/lab/control.ts';
import { socketPath } from '../src/lab/state.ts';
import type { TablesJson } from '../src/lab/table-control.ts';
import { startEtcd, type TestEtcd } from './etcd.ts';
import { waitForLine, stop } from './child.ts';

const PODWIRE = fileURLToPath(new URL('../bin/podwire.js', import.meta.url));
const LAB = 'pwbs';
const HOSTS = 3;
const PODS_PER_NODE = 4;
const GROUPS = 4;
const EP_VIP = '10.252.200.1';

export interface StoreBenchOptions { services: number; endpointChanges: number }
export interface StoreBenchReport {
  options: StoreBenchOptions & { hosts: number };
  /** apply of `services` Services: ms until each host serves all of them, and the last */
  apply: { perHostMs: number[]; allMs: number; writtenMs: number };
  /** each endpoint change: ms until the last host's data plane has the new backend */
  endpointChangeMs: number[];
  endpointChangeMedianMs: number;
  /** of which the writer's part: connect, read the lab and its Services, plan, write (what `apply --store` does before it returns) */
  endpointWrittenMs: number[];
  endpointWrittenMedianMs: number;
}

function topology(): string {
  const nodes = Array.from({ length: HOSTS }, (_, n) => [
    `  - name: n${n + 1}`,
    `    address: 127.0.0.${n + 1}`,
    `    pods: [${Array.from({ length: PODS_PER_NODE }, (_, p) => `{ name: bs-${n}-${p}, labels: { grp: g${(n * PODS_PER_NODE + p) % GROUPS} } }`).join(', ')}]`,
  ].join('\n'));
  return ['cluster:', `  name: ${LAB}`, '  clusterCIDR: 10.253.0.0/16', '  serviceCIDR: 10.252.0.0/16', '  overlay: vxlan', '  dns: false',
    '  serviceCapacity: 4096', 'nodes:', ...nodes, ''].join('\n');
}

function servicesYaml(n: number): string {
  return Array.from({ length: n }, (_, i) => [
    'apiVersion: v1', 'kind: Service', `metadata: { name: s${i} }`,
    `spec: { selector: { grp: g${i % GROUPS} }, ports: [{ port: 80, targetPort: 8080 }] }`,
  ].join('\n')).join('\n---\n');
}

/** A selector-less Service at EP_VIP whose one endpoint is `ip` (an EndpointSlice). */
function endpointYaml(ip: string): string {
  return [
    'apiVersion: v1', 'kind: Service', 'metadata: { name: moving }', `spec: { clusterIP: ${EP_VIP}, ports: [{ port: 80, targetPort: 8080 }] }`,
    '---',
    'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice', 'metadata: { name: moving-1, labels: { kubernetes.io/service-name: moving } }',
    'addressType: IPv4', 'ports: [{ port: 8080 }]', `endpoints: [{ addresses: [${ip}] }]`,
  ].join('\n');
}

async function tables(node: number): Promise<TablesJson> {
  return (await requestControl(socketPath(`${LAB}-n${node + 1}`), 'tables', 10_000)) as TablesJson;
}

/** A host's log lines as they arrive, each with the time it came (performance.now()). */
interface HostLog { lines: { t: number; text: string }[]; waiters: (() => void)[] }

function follow(p: ChildProcess): HostLog {
  const log: HostLog = { lines: [], waiters: [] };
  let partial = '';
  p.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const t = performance.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const text of parts) log.lines.push({ t, text });
    for (const w of log.waiters.splice(0)) w();
  });
  return log;
}

/**
 * Wait until every host logged, after line `from[i]`, store batches that
 * `done` accepts (the host logs "store: applied N Service(s) (...)" once its
 * data plane has them); ms from t0 to each host's line.
 */
async function untilLogged(logs: HostLog[], from: number[], t0: number, done: (lines: string[]) => boolean, timeoutMs = 60_000): Promise<number[]> {
  return Promise.all(logs.map((log, i) => new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench store: host ${i + 1} did not log the change within ${timeoutMs} ms`)), timeoutMs);
    const check = () => {
      const mine = log.lines.slice(from[i]).filter((l) => /podwire: store: applied \d+ Service/.test(l.text));
      if (mine.length && done(mine.map((l) => l.text))) {
        clearTimeout(timer);
        resolve(mine[mine.length - 1].t - t0);
      } else log.waiters.push(check);
    };
    check();
  })));
}

const appliedCount = (lines: string[]) => lines.reduce((n, l) => n + Number(/applied (\d+) Service/.exec(l)![1]), 0);

export async function runStoreBench(opts: StoreBenchOptions, log: (line: string) => void = console.log): Promise<StoreBenchReport> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bs-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, topology());
  let etcd: TestEtcd | undefined;
  const procs: ChildProcess[] = [];
  const logs: HostLog[] = [];
  try {
    etcd = await startEtcd();
    const store = { url: etcd.url };
    for (let i = 0; i < HOSTS; i++) {
      const p = spawn(process.execPath, [PODWIRE, 'up', ...(i === 0 ? [file] : []), '--node', `n${i + 1}`, '--name', LAB, '--store', etcd.url], { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      logs.push(follow(p));
      await waitForLine(p, /^ready\b/m, 60_000);
    }
    log(`bench store: ${HOSTS} hosts up (etcd ${etcd.url}); applying ${opts.services} Services`);
    const input = parseApplyFile(servicesYaml(opts.services), 'bench services');
    const mark = () => logs.map((l) => l.lines.length);
    let from = mark();
    const t0 = performance.now();
    await applyToStore(store, LAB, input);
    const written = performance.now() - t0;
    const perHost = await untilLogged(logs, from, t0, (lines) => appliedCount(lines) >= opts.services);
    // the hosts said so; their data planes must agree
    for (let i = 0; i < HOSTS; i++) {
      const n = (await tables(i)).services.filter((x) => x.service?.startsWith('default/s')).length;
      if (n !== opts.services) throw new Error(`bench store: host ${i + 1} logged the apply but its data plane holds ${n} of ${opts.services} Services' frontends`);
    }
    log(`bench store: ${opts.services} Services written in ${written.toFixed(0)} ms, served by every host after ${Math.max(...perHost).toFixed(0)} ms`);

    const ips = Array.from({ length: HOSTS }, (_, n) => `10.253.${n}.2`); // each node's first pod
    const backend = (t: TablesJson) => t.services.find((x) => x.vip === EP_VIP)?.backends.map((b) => b.ip).join(',');
    const changes: number[] = [];
    const writes: number[] = [];
    for (let k = 0; k <= opts.endpointChanges; k++) {
      const ip = ips[k % ips.length];
      const doc = parseApplyFile(endpointYaml(ip), 'bench endpoint');
      from = mark();
      const t1 = performance.now();
      await applyToStore(store, LAB, doc);
      const w = performance.now() - t1;
      const got = Math.max(...await untilLogged(logs, from, t1, (lines) => lines.some((l) => l.includes('(moving)'))));
      for (let i = 0; i < HOSTS; i++) {
        const b = backend(await tables(i));
        if (b !== ip) throw new Error(`bench store: host ${i + 1} logged the endpoint change but its data plane has ${b} for ${EP_VIP}, not ${ip}`);
      }
      if (k === 0) continue; // the first creates the Service
      writes.push(w);
      changes.push(got);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return {
      options: { ...opts, hosts: HOSTS },
      apply: { perHostMs: perHost, allMs: Math.max(...perHost), writtenMs: written },
      endpointChangeMs: changes,
      endpointChangeMedianMs: median(changes),
      endpointWrittenMs: writes,
      endpointWrittenMedianMs: median(writes),
    };
  } finally {
    for (const p of procs) await stop(p);
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
