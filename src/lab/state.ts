// What a running lab leaves on disk: enough for `podwire down` to clean up
// after a process that died, and for `status` to find the control socket.
import { mkdirSync, readFileSync, writeSync, rmSync, readdirSync, lstatSync, chmodSync, openSync, closeSync, fsyncSync, renameSync, constants } from 'node:fs';
import { join } from 'node:path';
import { isValidName } from '../model/topology-types.ts';
import type { ServicePlan } from '../model/services.ts';

export const STATE_DIR = process.env.PODWIRE_STATE_DIR ?? '/run/podwire';

/** What the state file records of the Ingress controller: nginx's prefix directory and master pid (with its start time, so a reused pid is never signalled). */
export interface IngressState { prefix: string; pid?: number; pidStart?: string }

export interface LabState {
  name: string;
  pid: number;
  /**
   * the lab process's start time (/proc/<pid>/stat field 22, clock ticks
   * since boot): with the pid, it names the process for sure, so a pid reused
   * after a crash is not taken for the lab (labProcessAlive)
   */
  pidStart?: string;
  startedAt: string;
  /** every namespace this lab creates (written before creating them) */
  namespaces: string[];
  /** root-namespace links this lab may create (TAPs before they move into their pod) */
  links: string[];
  socket: string;
  /** nftables netdev tables this lab loads in its own namespace (a `--node` host's TAP underlay, host-tap-underlay.ts) */
  nftTables?: string[];
  /** /etc/netns/<name> directories this lab writes (the pods' resolv.conf, src/lab/cluster-dns.ts) */
  etcNetns?: string[];
  /** the Ingress controller's nginx: its prefix directory and master pid (src/lab/ingress.ts) */
  ingress?: IngressState;
  /** after `podwire apply` / `delete service`: the lab's Services as they now are (as `status` shows them) */
  services?: ServicePlan[];
}

/**
 * What podwire writes into every namespace it creates (the alias of its
 * `lo`, which lives and dies with the namespace): the lab and the state
 * directory it belongs to. `down --all` removes a pw- namespace no state file
 * lists only when it carries this state directory's mark; `up` and `down`
 * leave a listed namespace alone when its mark names another lab.
 */
export function ownerMark(lab: string): string {
  const mark = `podwire:${checkLab(lab)}:${encodeURIComponent(STATE_DIR)}`;
  // IFALIASZ is 256 with the terminating NUL
  if (mark.length > 255) throw new Error(`the state directory ${STATE_DIR} is too long to be recorded in a namespace mark`);
  return mark;
}

export function parseOwnerMark(alias: string | undefined): { lab: string; stateDir: string } | undefined {
  const m = /^podwire:([a-z0-9-]+):(\S+)$/.exec(alias ?? '');
  if (!m || !isValidName(m[1])) return undefined;
  try {
    return { lab: m[1], stateDir: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}

export function statePath(lab: string): string {
  return join(STATE_DIR, `${checkLab(lab)}.json`);
}
export function socketPath(lab: string): string {
  return join(STATE_DIR, `${checkLab(lab)}.sock`);
}

/** A lab name becomes a file name: a DNS label only, never a path ("../x"). */
function checkLab(lab: string): string {
  if (!isValidName(lab)) throw new Error(`"${lab}" is not a valid lab name (lowercase letters, digits, "-", at most 63)`);
  return lab;
}

/**
 * The state directory, root's alone (0700): the control sockets inside are
 * reachable only through it. Created so, and tightened if an older podwire
 * left it looser; a symlink or a directory owned by someone else is refused.
 */
export function ensureStateDir(): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const st = lstatSync(STATE_DIR);
  if (!st.isDirectory()) throw new Error(`${STATE_DIR} is not a directory (a symlink?): refusing to keep lab state there`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${STATE_DIR} belongs to uid ${st.uid}, not to us (${uid}): refusing to keep lab state there`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(STATE_DIR, 0o700);
}

/**
 * Write a lab's state file whole: a temp file in the same directory
 * (O_EXCL|O_NOFOLLOW), then rename over the old one, so a reader never sees
 * half a file and nothing is written through a symlink planted at the name.
 */
export function writeState(s: LabState): void {
  ensureStateDir();
  const target = statePath(s.name);
  let st;
  try { st = lstatSync(target); } catch { /* not there yet */ }
  if (st && !st.isFile()) throw new Error(`${target} is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}: refusing to write lab state through it`);
  const tmp = join(STATE_DIR, `.${s.name}.json.${process.pid}.tmp`);
  rmSync(tmp, { force: true }); // a leftover of a dead process with this pid (rm does not follow a symlink)
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify(s, null, 2));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, target);
}

export function readState(lab: string): LabState | undefined {
  try {
    const fd = openSync(statePath(lab), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return JSON.parse(readFileSync(fd, 'utf8')) as LabState;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

export function removeState(lab: string): void {
  rmSync(statePath(lab), { force: true });
  rmSync(socketPath(lab), { force: true });
}

export function listLabs(): string[] {
  try {
    return readdirSync(STATE_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter(isValidName);
  } catch {
    return [];
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process's start time: /proc/<pid>/stat field 22 (clock ticks since boot),
 * undefined when there is no such process or it is a zombie (dead, not reaped).
 */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const start = rest[22 - 3];
  return start && /^\d+$/.test(start) ? start : undefined;
}

/** This process's start time, recorded in the state file beside its pid. */
export function currentProcessStart(): string | undefined {
  return processStartTime(process.pid);
}

/**
 * Whether the process a state file names is still the lab's: the pid alive
 * AND started when the lab's process did. After a crash the pid may belong
 * to an unrelated process, which must not be signalled nor block `up`.
 * A state file written before start times were recorded: the pid alive and
 * its command line naming podwire (the best that can be told).
 */
export function labProcessAlive(s: Pick<LabState, 'pid' | 'pidStart'>): boolean {
  if (s.pidStart !== undefined) return processStartTime(s.pid) === s.pidStart;
  if (!processAlive(s.pid)) return false;
  try {
    return readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').includes('podwire');
  } catch {
    return false;
  }
}
