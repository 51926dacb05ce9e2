// `podwire bench store`: how fast a change written to the shared store
// reaches every host's data plane. Three podwire processes, one node each
// (`up --node nX --store`), play three hosts on this machine: their node
// addresses are 127.0.0.1-3 (VXLAN between loopback addresses), etcd listens
// on 127.0.0.1 at a free port. Measured, from the moment the change is
// handed to the store client until the last host's data plane holds it
// (read from each host's WASM tables over its control socket, polled every
// POLL_MS):
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
const POLL_MS = 5;
const EP_VIP = '10.252.200.1';

export interface StoreBenchOptions { services: number; endpointChanges: number }
export interface StoreBenchReport {
  options: StoreBenchOptions & { hosts: number; pollMs: number };
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

/** Poll every host until `holds` is true of its tables; ms (from t0) at which each host first held it. */
async function untilAll(t0: number, holds: (t: TablesJson) => boolean, timeoutMs = 60_000): Promise<number[]> {
  const at: (number | undefined)[] = Array.from({ length: HOSTS }, () => undefined);
  while (at.some((x) => x === undefined)) {
    await Promise.all(at.map(async (x, i) => {
      if (x === undefined && holds(await tables(i))) at[i] = performance.now() - t0;
    }));
    if (performance.now() - t0 > timeoutMs) throw new Error(`bench store: not every host got the change within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return at as number[];
}

export async function runStoreBench(opts: StoreBenchOptions, log: (line: string) => void = console.log): Promise<StoreBenchReport> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bs-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, topology());
  let etcd: TestEtcd | undefined;
  const procs: ChildProcess[] = [];
  try {
    etcd = await startEtcd();
    const store = { url: etcd.url };
    for (let i = 0; i < HOSTS; i++) {
      const p = spawn(process.execPath, [PODWIRE, 'up', ...(i === 0 ? [file] : []), '--node', `n${i + 1}`, '--name', LAB, '--store', etcd.url], { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      await waitForLine(p, /^ready\b/m, 60_000);
    }
    log(`bench store: ${HOSTS} hosts up (etcd ${etcd.url}); applying ${opts.services} Services`);
    const input = parseApplyFile(servicesYaml(opts.services), 'bench services');
    const t0 = performance.now();
    await applyToStore(store, LAB, input);
    const written = performance.now() - t0;
    const perHost = await untilAll(t0, (t) => t.services.filter((s) => s.service?.startsWith('default/s')).length >= opts.services);
    log(`bench store: ${opts.services} Services written in ${written.toFixed(0)} ms, served by every host after ${Math.max(...perHost).toFixed(0)} ms`);

    const ips = Array.from({ length: HOSTS }, (_, n) => `10.253.${n}.2`); // each node's first pod
    await applyToStore(store, LAB, parseApplyFile(endpointYaml(ips[0]), 'bench endpoint'));
    const backend = (t: TablesJson) => t.services.find((s) => s.vip === EP_VIP)?.backends.map((b) => b.ip).join(',');
    await untilAll(performance.now(), (t) => backend(t) === ips[0]);
    const changes: number[] = [];
    const writes: number[] = [];
    for (let k = 1; k <= opts.endpointChanges; k++) {
      const ip = ips[k % ips.length];
      const doc = parseApplyFile(endpointYaml(ip), 'bench endpoint');
      const t1 = performance.now();
      await applyToStore(store, LAB, doc);
      writes.push(performance.now() - t1);
      changes.push(Math.max(...await untilAll(t1, (t) => backend(t) === ip)));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return {
      options: { ...opts, hosts: HOSTS, pollMs: POLL_MS },
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
