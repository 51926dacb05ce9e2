// iproute2 wrappers. Network safety: podwire only creates, changes or deletes
// host objects whose name starts with PW_PREFIX; every mutating helper here
// checks that before it runs anything. Commands go through execFile/spawn
// (never a shell), and many commands share one `ip -batch` process so a lab
// of ten pods comes up in well under the 2 s budget.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const PW_PREFIX = 'pw-';

export function assertPwName(name: string): void {
  if (typeof name !== 'string' || !name.startsWith(PW_PREFIX) || name.length <= PW_PREFIX.length) {
    throw new Error(`refusing to touch "${name}": podwire only manages host objects named ${PW_PREFIX}*`);
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the program's stdin, which is then closed. */
  input?: string;
  /** Kill the program (SIGTERM) and reject after this long. */
  timeoutMs?: number;
}

/** Run a program without a shell; on failure the error names the command line and its stderr. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 0 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as { code?: unknown; killed?: boolean };
        const how = e.killed ? `killed after ${opts.timeoutMs} ms` : `exit ${e.code}`;
        const why = stderr.trim() || stdout.trim().slice(0, 2000) || err.message;
        reject(new Error(`\`${[file, ...args].join(' ')}\` failed (${how}): ${why}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
    child.stdin?.end(opts.input); // EOF right away: nothing we run should wait on a terminal
  });
}

/** `ip ARGS...` in the root namespace. Read-only use, or pw- objects only: callers check. */
export function ip(args: string[]): Promise<RunResult> {
  return run('ip', args);
}

/**
 * True when namespace names made here would stay private to this process: a
 * name is a bind mount under /run/netns, and `ip netns exec` runs its command
 * in a mount namespace whose /run/netns only receives mounts (a "master:"
 * peer group, no "shared:" one). A pod namespace made there could not be
 * entered from the user's shell. podwire refuses to start then, naming the
 * fix: enter the host namespace with `nsenter --net=/run/netns/<ns>`, which
 * changes the network namespace only.
 */
export function netnsNamesArePrivate(): boolean {
  try {
    const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    // mountinfo: id parent major:minor root mountpoint options [optional fields...] - fstype ...
    const top = lines.map((l) => l.split(' ')).filter((f) => f[4] === '/run/netns').pop();
    if (!top) return false;
    const fields = top.slice(6, top.indexOf('-'));
    return fields.some((f) => f.startsWith('master:')) && !fields.some((f) => f.startsWith('shared:'));
  } catch {
    return false; // no /proc: cannot tell, assume the common case
  }
}

/**
 * Run many `ip` commands (one per line, no leading "ip") in one process.
 * With `ns`, they run inside that pw- namespace, where any name is fine but
 * nothing may be moved to a non-pw- namespace. Without `ns` (root namespace),
 * every link/netns/dev named in a line must be a pw- name.
 * `force` keeps going past failing lines (useful for teardown).
 */
export async function ipBatch(lines: string[], ns?: string, opts: { force?: boolean } = {}): Promise<RunResult> {
  if (ns !== undefined) assertPwName(ns);
  for (const line of lines) checkBatchLine(line, ns === undefined);
  if (lines.length === 0) return { stdout: '', stderr: '' };
  const args = [...(ns ? ['-n', ns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  return run('ip', args, { input: lines.join('\n') + '\n' });
}

// Words whose next token names a device (in the root namespace those must be pw-).
const DEVICE_WORDS = new Set(['dev', 'name', 'master', 'link']);
const ROOT_OBJECTS = new Set(['netns', 'link', 'addr', 'address', 'route', 'neigh']);

/**
 * Best-effort static check of one batch line; throws when it could touch a
 * non-pw- host object. Namespace names are global, so they are checked in
 * every mode; device names only matter in the root namespace.
 */
export function checkBatchLine(line: string, rootNs: boolean): void {
  const t = line.trim().split(/\s+/).filter(Boolean);
  if (t.length === 0 || t[0].startsWith('#')) return;
  const [obj, verb = 'show'] = t;
  const readOnly = /^(show|list|ls|get)$/.test(verb);
  const named: (string | undefined)[] = [];
  if (obj === 'netns' && !readOnly) named.push(t[2]);
  for (let i = 1; i < t.length; i++) if (t[i] === 'netns') named.push(t[i + 1]);
  if (rootNs && !readOnly) {
    if (!ROOT_OBJECTS.has(obj)) throw new Error(`refusing "ip ${obj}" changes in the root namespace: ${line}`);
    // `link add A ... peer name B ...`: each side may be created straight
    // into a pw- namespace (`netns pw-x`), where its own name is free.
    const peer = t.indexOf('peer');
    const sides = peer < 0 ? [t.slice(2)] : [t.slice(2, peer), t.slice(peer + 1)];
    sides.forEach((side, s) => {
      const moved = side.includes('netns');
      const created = obj === 'link' && verb === 'add';
      if (s === 0 && obj === 'link' && side[0] !== 'name' && side[0] !== 'dev') {
        if (!(moved && created)) named.push(side[0]); // positional device
      }
      for (let i = 0; i < side.length; i++) {
        if (!DEVICE_WORDS.has(side[i])) continue;
        if (side[i] === 'name' && moved) continue; // the name it gets inside the pw- namespace
        named.push(side[i + 1]);
      }
    });
    if (obj !== 'netns' && obj !== 'link' && !t.includes('dev')) {
      throw new Error(`refusing "ip ${obj}" in the root namespace without "dev pw-...": ${line}`);
    }
  }
  for (const n of named) {
    if (n === undefined) throw new Error(`incomplete batch line: ${line}`);
    assertPwName(n);
  }
}

export async function netnsAdd(name: string): Promise<void> {
  assertPwName(name);
  await ip(['netns', 'add', name]);
}

export async function netnsDel(name: string): Promise<void> {
  assertPwName(name);
  await ip(['netns', 'del', name]);
}

export async function netnsList(): Promise<string[]> {
  const { stdout } = await ip(['-j', 'netns', 'list']);
  // `ip -j netns list` prints nothing at all when there are no namespaces.
  if (stdout.trim() === '') return [];
  return (JSON.parse(stdout) as { name: string }[]).map((n) => n.name);
}

/** Link names in the root namespace, or inside pw- namespace `ns`. */
export async function linkList(ns?: string): Promise<string[]> {
  if (ns !== undefined) assertPwName(ns);
  const { stdout } = await ip([...(ns ? ['-n', ns] : []), '-j', 'link', 'show']);
  if (stdout.trim() === '') return [];
  return (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname);
}

/**
 * The alias of `lo` inside each pw- namespace named (podwire's mark,
 * src/lab/state.ts ownerMark); undefined for one without an alias or that
 * cannot be read (gone meanwhile).
 */
export async function netnsMarks(names: string[]): Promise<Map<string, string | undefined>> {
  names.forEach(assertPwName);
  const marks = await Promise.all(names.map(async (ns) => {
    try {
      const { stdout } = await ip(['-n', ns, '-j', 'link', 'show', 'dev', 'lo']);
      const alias = (JSON.parse(stdout) as { ifalias?: string }[])[0]?.ifalias;
      return typeof alias === 'string' ? alias : undefined;
    } catch {
      return undefined;
    }
  }));
  return new Map(names.map((n, i) => [n, marks[i]]));
}

export async function linkDel(name: string): Promise<void> {
  assertPwName(name);
  await ip(['link', 'del', name]);
}

/**
 * Spawn `argv` inside pw- namespace `ns` (via `ip netns exec`, which execs in
 * place, so signals reach the program). The caller owns the child and must
 * read its piped stdout/stderr (or pass `stdio`) so it never blocks on a full pipe.
 */
export function netnsExec(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
  assertPwName(ns);
  return spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Run `argv` inside pw- namespace `ns` to completion; rejects with its stderr on non-zero exit. */
export function netnsRun(ns: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  assertPwName(ns);
  return run('ip', ['netns', 'exec', ns, ...argv], opts);
}

/** Set sysctls inside pw- namespace `ns`, e.g. {'net.ipv4.ip_forward': 1}, in one process. */
export async function sysctl(ns: string, values: Record<string, string | number>): Promise<void> {
  const pairs = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  if (pairs.length === 0) return;
  await netnsRun(ns, ['sysctl', '-qw', ...pairs]);
}
