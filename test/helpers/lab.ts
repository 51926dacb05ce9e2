// Test helper: run a real `podwire up` lab as a child process and talk to it
// the way a user would (the CLI, `ip netns exec`). Every lab started here is
// tracked, so a failing test can always tear down what it started — and only
// that: `podwire down --name L` runs only when the state file names our pid.
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir, constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATE_DIR } from '../../src/lab/state.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const PODWIRE = join(REPO, 'bin', 'podwire.js');
export const isRoot = process.getuid?.() === 0;

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** exit code, or 128 + signal number when killed */
  code: number;
}

export interface ExecOptions {
  /** kill (SIGKILL) after this long; default 60 s */
  timeoutMs?: number;
  /** written to stdin, which is then closed */
  input?: string | Buffer;
}

/** The JSON `podwire status --json` prints (the fields the tests read). */
export interface StatusJson {
  lab: string;
  pid: number;
  cluster: { clusterCIDR: string; serviceCIDR: string; overlay: string; vxlan: { vni: number; port: number }; underlayCIDR: string; mtu: number; podMtu: number; offloads: boolean };
  /** namespace: the Kubernetes namespace; netns: the network namespace */
  pods: { name: string; namespace: string; netns: string; node: string; ip: string; mac: string; port: number }[];
  services: {
    name: string; namespace: string; type: string; clusterIP: string;
    ports: { name?: string; port: number; targetPort: number | string; protocol: string; nodePort?: number }[];
    endpoints: { pod: string; node: string; ip: string; ready: boolean; targetPorts?: Record<string, number> }[];
  }[];
  nodes: {
    name: string;
    podCIDR: string;
    gateway: string;
    gatewayMac: string;
    ports: ({ port: number; pod: string; rx_packets: number; rx_bytes: number; tx_packets: number; tx_bytes: number; rx_drops: number; tx_drops: number } & Record<string, unknown>)[];
    drops: Record<string, number>;
    events: Record<string, number>;
    fdb: { entries: number; capacity: number; table: { mac: string; port: number; ageMs: number }[] };
    /**
     * With more than one node, on podwire nodes: the node's underlay identity and its
     * underlay port's counters; `fabric` counts the in-process hand-overs (0 on a real bridge).
     * Absent on kernel nodes (no podwire data plane there).
     */
    underlay?: {
      ip: string; mac: string; vtepMac: string; port: number;
      counters: Record<string, number>;
      fabric: { noPeer: number; tooDeep: number; delivered: number };
      /** how super-frames cross it (src/lab/underlay-path.ts) */
      path?: { mode: string; text: string };
    };
  }[];
}

/** One node of a `status --json` result, by name (throws naming the nodes there are). */
export function statusNode(s: StatusJson, name: string): StatusJson['nodes'][number] {
  const n = s.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`status has no node ${name}: ${JSON.stringify(s.nodes.map((x) => x.name))}`);
  return n;
}

/** Counters with a non-zero value, as [name, count] pairs (empty when all are zero). */
export function nonZero(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).filter(([, v]) => v !== 0);
}

export interface RunningLab {
  name: string;
  proc: ChildProcess;
  /** everything the lab printed so far (stdout and stderr, interleaved) */
  output(): string;
  /** SIGTERM; after 5 s SIGKILL + `podwire down --name`. Resolves with the exit code (128 + signal if killed). */
  stop(): Promise<number>;
  status(): Promise<StatusJson>;
  /** run argv inside pw- namespace `ns` */
  exec(ns: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
}

const live = new Map<string, { proc: ChildProcess; stop: () => Promise<number> }>();

/** Run any program to completion (no shell). Never rejects on a non-zero exit. */
export function runProgram(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 256 << 20, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number' && !(err as { signal?: unknown }).signal) {
          reject(err);
          return;
        }
        const e = err as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
        const code = !e ? 0 : typeof e.code === 'number' ? e.code : 128 + signalNumber(e.signal);
        resolve({ stdout, stderr, code });
      });
    child.stdin?.end(opts.input);
  });
}

/** The podwire CLI: `node bin/podwire.js ARGS`. */
export function podwire(args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return runProgram(process.execPath, [PODWIRE, ...args], opts);
}

/** argv inside a pw- namespace, via `ip netns exec`. */
export function execIn(ns: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  assertPw(ns);
  return runProgram('ip', ['netns', 'exec', ns, ...argv], opts);
}

/** A long-running program inside a pw- namespace (e.g. a server); the caller kills it. */
export function spawnIn(ns: string, argv: string[]): ChildProcess {
  assertPw(ns);
  return spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Start a lab: write `yaml` (or use the built-in default lab when undefined)
 * to a temp file and run `podwire up FILE --name NAME ...extraArgs`.
 * Resolves once the lab printed its `ready` line; rejects with everything it
 * printed when it exits first or is not ready within 30 s.
 */
export async function startLab(yaml: string | undefined, opts: { name: string; extraArgs?: string[]; env?: Record<string, string> }): Promise<RunningLab> {
  const { name } = opts;
  if (live.has(name)) throw new Error(`startLab: lab "${name}" was already started by this test file`);
  const dir = mkdtempSync(join(tmpdir(), 'pw-test-'));
  const args = ['up'];
  if (yaml !== undefined) {
    const file = join(dir, 'topology.yaml');
    writeFileSync(file, yaml);
    args.push(file);
  }
  args.push('--name', name, ...(opts.extraArgs ?? []));
  const proc = spawn(process.execPath, [PODWIRE, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const exited = new Promise<number>((resolve) => {
    proc.once('exit', (code, sig) => resolve(code ?? 128 + signalNumber(sig)));
  });
  let exitCode: number | undefined;
  void exited.then((c) => { exitCode = c; live.delete(name); rmSync(dir, { recursive: true, force: true }); });

  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      let code = exitCode;
      if (code === undefined) {
        proc.kill('SIGTERM');
        code = await Promise.race([exited, sleep(STOP_GRACE_MS).then(() => undefined)]);
        if (code === undefined) {
          proc.kill('SIGKILL');
          code = await exited;
        }
      }
      // it died without cleaning up (killed, crashed): its state file still names its pid
      await downIfOurs(name, proc.pid!);
      return code;
    })();
    return stopping;
  };
  live.set(name, { proc, stop });

  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    const check = () => {
      if (/^ready\b/m.test(out)) { clearTimeout(timer); resolve(true); }
    };
    proc.stdout!.on('data', check);
    void exited.then(() => { clearTimeout(timer); resolve(/^ready\b/m.test(out)); });
    check();
  });
  if (!ready || exitCode !== undefined) {
    const code = await stop();
    throw new Error(`podwire up ${args.join(' ')}: not ready (exit ${code}); output:\n${out}`);
  }

  return {
    name,
    proc,
    output: () => out,
    stop,
    status: async () => {
      const r = await podwire(['status', '--json', '--name', name], { timeoutMs: 20_000 });
      if (r.code !== 0) throw new Error(`podwire status --name ${name} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
      return JSON.parse(r.stdout) as StatusJson;
    },
    exec: (ns, argv, o) => execIn(ns, argv, o),
  };
}

/** Stop every lab this process started and has not stopped yet (for afterAll). */
export async function stopAllLabs(): Promise<void> {
  await Promise.all([...live.values()].map((l) => l.stop()));
}

/**
 * `podwire down --name L`, but only when L's state file records `pid` —
 * i.e. a lab we started and killed, never someone else's lab of that name.
 */
export async function downIfOurs(name: string, pid: number): Promise<ExecResult | undefined> {
  const state = readStateFile(name);
  if (!state || state.pid !== pid) return undefined;
  return podwire(['down', '--name', name], { timeoutMs: 20_000 });
}

export function statePathOf(name: string): string {
  return join(STATE_DIR, `${name}.json`);
}

export function readStateFile(name: string): { pid: number; namespaces: string[]; links: string[] } | undefined {
  try {
    return JSON.parse(readFileSync(statePathOf(name), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Namespaces and root-namespace links whose names start with one of `prefixes`. */
export async function hostLeftovers(prefixes: string[]): Promise<{ namespaces: string[]; links: string[] }> {
  const match = (n: string) => prefixes.some((p) => n.startsWith(p));
  const ns = await runProgram('ip', ['netns', 'list']);
  const links = await runProgram('ip', ['-o', 'link', 'show']);
  if (ns.code !== 0 || links.code !== 0) throw new Error(`ip failed: ${ns.stderr}${links.stderr}`);
  return {
    // "pw-a (id: 3)" or just "pw-a"
    namespaces: ns.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n) => n && match(n)),
    // "7: pw-123-0: <...>" or "7: eth0@if3: <...>"
    links: links.stdout.split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').filter((n) => n && match(n)),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `check` every `everyMs` until it holds; the time it took (ms). Throws after `ms`, naming `what`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 15_000, everyMs = 50): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(everyMs);
  }
}

function assertPw(ns: string): void {
  if (!ns.startsWith('pw-')) throw new Error(`refusing to run in namespace "${ns}": tests only use pw-* namespaces`);
}

function signalNumber(sig: NodeJS.Signals | null | undefined): number {
  return sig ? (constants.signals[sig] ?? 0) : 0;
}

// Last resort when the test process exits with labs still up (a crashed
// hook, a killed worker): SIGKILL them and clean up synchronously.
process.once('exit', () => {
  for (const [name, { proc }] of live) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    try { proc.kill('SIGKILL'); } catch { /* gone */ }
    const state = readStateFile(name);
    if (state && state.pid === proc.pid) {
      // wait for the kill to land, so `down` does not SIGTERM-wait on a live pid
      spawnSync('sh', ['-c', `while kill -0 ${proc.pid} 2>/dev/null; do sleep 0.05; done`], { timeout: 3000 });
      spawnSync(process.execPath, [PODWIRE, 'down', '--name', name], { stdio: 'ignore', timeout: 20_000 });
    }
  }
});
