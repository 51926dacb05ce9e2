// `podwire bench store`: how fast a change written to the shared store
// reaches every host's data plane. Three podwire processes, one node each
// (`up --node nX --store`), play three hosts on this machine: their node
// addresses are 127.0.0.1-3 (VXLAN between loopback addresses), etcd listens
// on 127.0.0.1 at a free port. Timed, from the moment the change is handed
// to the store client (what `apply --store` does after parsing its file)
// until the last host has it in its data plane: each host logs
// "store: applied N Service(s) ..." once its forwarding worker acknowledged
// the programmed tables (read here as the line arrives, no polling to load
// the hosts), with where its time went (waited for the batch, planned,
// programmed). After the clock stops, every host is checked for real: a
// probe frame traced through its data plane to the Service must be DNATed to
// the expected backend (and after the apply its WASM Service table must
// hold all N frontends).
//   - `apply --store` of SERVICES Services selecting pods;
//   - one endpoint change: a selector-less Service whose EndpointSlice
//     moves from one pod to another.
// Phases per change: the writer's (connect, read the lab and its Services,
// plan, write), a bare etcd watcher in this process (the floor: when etcd
// itself delivers the change), each host's. Figures, never pass/fail; the
// goals (1 s and 100 ms) are printed beside them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../src/util/package-files.ts';
import { parseApplyFile } from '../src/model/apply.ts';
import { applyToStore, type StoreApplyTimings } from '../src/store/store-apply.ts';
import { SharedStore } from '../src/store/etcd-store.ts';
import { keys } from '../src/store/schema.ts';
import { requestControl } from '../src/lab/control.ts';
import { socketPath } from '../src/lab/state.ts';
import type { TablesJson } from '../src/lab/table-control.ts';
import type { TraceReply } from '../src/lab/trace-control.ts';
import { startEtcd, type TestEtcd } from './etcd.ts';
import { waitForLine, stop } from './child.ts';

// the package's entry point, from here or from the compiled copy under dist/
const PODWIRE = packageFile('bin/podwire.js');
const LAB = 'pwbs';
const HOSTS = 3;
const PODS_PER_NODE = 4;
const GROUPS = 4;
const EP_VIP = '10.252.200.1';

export interface StoreBenchOptions { services: number; endpointChanges: number }

/** One host's part of a change: when its last batch was logged (ms from the change's start) and, summed over its batches, where its time went. */
export interface HostPhases { servedMs: number; batches: number; waitedMs: number; planMs: number; programMs: number; frontends: number }

/** One change, end to end. */
export interface ChangeTiming {
  /** until the last host logged it served (ms from handing the change to the store client) */
  allMs: number;
  /** the writer's part: connect, read, plan, write (until etcd acknowledged every transaction) */
  writer: StoreApplyTimings;
  writtenMs: number;
  /** a bare etcd watcher in the bench process saw the change's last key (the floor of any host) */
  bareWatchMs: number;
  hosts: HostPhases[];
}

export interface StoreBenchReport {
  options: StoreBenchOptions & { hosts: number };
  /** /proc/loadavg at the start and at the end */
  loadavg: { start: string; end: string };
  apply: ChangeTiming;
  endpointChanges: ChangeTiming[];
  /** the endpoint changes: median, min, max of allMs; median of writtenMs and of allMs - writtenMs (etcd to the last host's data plane) */
  endpointChange: { medianMs: number; minMs: number; maxMs: number; writtenMedianMs: number; propagationMedianMs: number; bareWatchMedianMs: number };
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

const control = (node: number, cmd: string, body: Record<string, unknown> = {}) => requestControl(socketPath(`${LAB}-n${node + 1}`), cmd, 10_000, body);

/** A probe frame from host `node`'s first pod to `vip`:80/tcp, through that host's data plane: the backend its Service NAT chose. */
async function tracedBackend(node: number, vip: string): Promise<string | undefined> {
  const r = (await control(node, 'trace', { from: `bs-${node}-0`, to: vip, proto: 'tcp', port: 80 })) as TraceReply;
  const step = r.hops.flatMap((h) => h.steps).find((x) => x.step === 'svc_backend');
  return step ? String(step.detail.backend) : undefined;
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

/** "podwire: store: applied 128 Service(s) (s0, s1, s2, ...): 128 frontend(s) programmed; waited 0.3 ms, planned 10.2 ms, programmed 20.5 ms" (store-sync.ts) */
const APPLIED = /podwire: store: applied (\d+) Service\(s\) \((.*)\): (\d+) frontend\(s\) programmed; waited ([\d.]+) ms, planned ([\d.]+) ms, programmed ([\d.]+) ms/;

/**
 * Wait until every host logged, after line `from[i]`, applied batches that
 * `done` accepts; each host's phases, times from t0.
 */
async function untilServed(logs: HostLog[], from: number[], t0: number, done: (batches: RegExpExecArray[]) => boolean, timeoutMs = 60_000): Promise<HostPhases[]> {
  return Promise.all(logs.map((log, i) => new Promise<HostPhases>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench store: host ${i + 1} did not log the change within ${timeoutMs} ms`)), timeoutMs);
    const check = () => {
      const mine = log.lines.slice(from[i]).map((l) => ({ t: l.t, m: APPLIED.exec(l.text) })).filter((x): x is { t: number; m: RegExpExecArray } => x.m !== null);
      if (mine.length && done(mine.map((x) => x.m))) {
        clearTimeout(timer);
        const sum = (k: number) => mine.reduce((n, x) => n + Number(x.m[k]), 0);
        resolve({ servedMs: mine[mine.length - 1].t - t0, batches: mine.length, frontends: sum(3), waitedMs: sum(4), planMs: sum(5), programMs: sum(6) });
      } else log.waiters.push(check);
    };
    check();
  })));
}

/** A watcher of the lab's services/ in this process: when each key's latest put arrived (performance.now()). */
async function bareWatcher(store: SharedStore): Promise<{ seen: Map<string, number>; waiters: (() => void)[] }> {
  const w = { seen: new Map<string, number>(), waiters: [] as (() => void)[] };
  const { revision } = await store.services(LAB);
  await store.watch(keys.services(LAB), revision, (events) => {
    const t = performance.now();
    for (const e of events) w.seen.set(e.key, t);
    for (const f of w.waiters.splice(0)) f();
  });
  return w;
}

function until(w: { waiters: (() => void)[] }, ok: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (ok() ? resolve() : w.waiters.push(check));
    check();
  });
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runStoreBench(opts: StoreBenchOptions, log: (line: string) => void = console.log): Promise<StoreBenchReport> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bs-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, topology());
  let etcd: TestEtcd | undefined;
  let watcherStore: SharedStore | undefined;
  const procs: ChildProcess[] = [];
  const logs: HostLog[] = [];
  const loadStart = loadavg();
  try {
    etcd = await startEtcd();
    const store = { url: etcd.url };
    for (let i = 0; i < HOSTS; i++) {
      const p = spawn(process.execPath, [PODWIRE, 'up', ...(i === 0 ? [file] : []), '--node', `n${i + 1}`, '--name', LAB, '--store', etcd.url], { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      logs.push(follow(p));
      await waitForLine(p, /^ready\b/m, 60_000);
    }
    watcherStore = await SharedStore.connect(store);
    const bare = await bareWatcher(watcherStore);
    log(`bench store: ${HOSTS} hosts up (etcd ${etcd.url}); applying ${opts.services} Services (loadavg ${loadavg()})`);
    const mark = () => logs.map((l) => l.lines.length);

    /** Hand `input` to the store client and wait until every host logged `served`; the phases. */
    const timeChange = async (input: ReturnType<typeof parseApplyFile>, lastKey: string, served: (batches: RegExpExecArray[]) => boolean): Promise<ChangeTiming> => {
      const from = mark();
      bare.seen.delete(lastKey);
      const writer: StoreApplyTimings = { connectMs: 0, readMs: 0, planMs: 0, writeMs: 0 };
      const t0 = performance.now();
      await applyToStore(store, LAB, input, writer);
      const writtenMs = performance.now() - t0;
      const hosts = await untilServed(logs, from, t0, served);
      await until(bare, () => bare.seen.has(lastKey));
      return { allMs: Math.max(...hosts.map((h) => h.servedMs)), writer, writtenMs, bareWatchMs: bare.seen.get(lastKey)! - t0, hosts };
    };

    const input = parseApplyFile(servicesYaml(opts.services), 'bench services');
    const apply = await timeChange(input, keys.service(LAB, 'default', `s${opts.services - 1}`),
      (batches) => batches.reduce((n, m) => n + Number(m[1]), 0) >= opts.services);
    // the hosts said so; their data planes must agree: every frontend in the table, and a frame to the last Service DNATed
    for (let i = 0; i < HOSTS; i++) {
      const t = (await control(i, 'tables')) as TablesJson;
      const n = t.services.filter((x) => x.service?.startsWith('default/s')).length;
      if (n !== opts.services) throw new Error(`bench store: host ${i + 1} logged the apply but its data plane holds ${n} of ${opts.services} Services' frontends`);
      const vip = t.services.find((x) => x.service === `default/s${opts.services - 1}`)!.vip;
      const b = await tracedBackend(i, vip);
      if (!b?.endsWith(':8080')) throw new Error(`bench store: host ${i + 1}: a frame to s${opts.services - 1} (${vip}:80) met no backend in its data plane (${b})`);
    }
    log(`bench store: ${opts.services} Services written in ${apply.writtenMs.toFixed(0)} ms, served by every host after ${apply.allMs.toFixed(0)} ms (loadavg ${loadavg()})`);

    const ips = Array.from({ length: HOSTS }, (_, n) => `10.253.${n}.2`); // each node's first pod
    const changes: ChangeTiming[] = [];
    for (let k = 0; k <= opts.endpointChanges; k++) {
      const ip = ips[k % ips.length];
      const c = await timeChange(parseApplyFile(endpointYaml(ip), 'bench endpoint'), keys.service(LAB, 'default', 'moving'),
        (batches) => batches.some((m) => m[2].split(', ').includes('moving')));
      for (let i = 0; i < HOSTS; i++) {
        const b = await tracedBackend(i, EP_VIP);
        if (b !== `${ip}:8080`) throw new Error(`bench store: host ${i + 1} logged the endpoint change but a frame to ${EP_VIP}:80 through its data plane goes to ${b}, not ${ip}:8080`);
      }
      if (k > 0) changes.push(c); // the first creates the Service
    }
    const all = changes.map((c) => c.allMs);
    return {
      options: { ...opts, hosts: HOSTS },
      loadavg: { start: loadStart, end: loadavg() },
      apply,
      endpointChanges: changes,
      endpointChange: {
        medianMs: median(all), minMs: Math.min(...all), maxMs: Math.max(...all),
        writtenMedianMs: median(changes.map((c) => c.writtenMs)),
        propagationMedianMs: median(changes.map((c) => c.allMs - c.writtenMs)),
        bareWatchMedianMs: median(changes.map((c) => c.bareWatchMs)),
      },
    };
  } finally {
    await watcherStore?.close();
    for (const p of procs) await stop(p);
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
