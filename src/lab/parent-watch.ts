// A foreground `podwire up` ends its lab when whoever started it is gone.
//
// Why not only prctl(PR_SET_PDEATHSIG): `npx podwire up &` runs
//   shell -> npm exec (node) -> sh -c "podwire up" -> node bin/podwire.js
// and `kill $!` kills npm alone (npm does not pass the signal on). Whether
// our direct parent is that `sh -c` (still alive, now orphaned) or npm
// depends on the shell, so the kernel's parent-death signal may never fire.
// Instead the lab records its ancestors in its own session (npm, the
// wrapper shells, the shell or job that started them; pid with its start
// time, so a reused pid is not taken for the ancestor) and checks them
// a few times a second: when any is gone, the lab is torn down. Ancestors
// above the session leader (sshd, tmux, the terminal) are not watched: a
// restarted sshd must not take the lab with it; when the terminal goes, the
// session's processes get SIGHUP (handled by the daemon) or die, which this
// sees. `podwire up -d` runs in a session of its own and watches nothing.
import { readFileSync } from 'node:fs';
import { processStartTime } from './state.ts';

export interface Ancestor { pid: number; start: string; comm: string }

/** Ticks between two start-time checks (a pid taken over by a new process is seen within STAT_EVERY ticks). */
const STAT_EVERY = 5;

/** Whether a process with this pid exists (EPERM: it does, we may not signal it). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** pid, ppid, session id and comm of a process, or undefined when it is gone. */
function procStat(pid: number): { ppid: number; sid: number; comm: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  // after "pid (comm) ": state ppid pgrp session ...
  const rest = stat.slice(close + 2).split(' ');
  return { ppid: Number(rest[1]), sid: Number(rest[3]), comm };
}

/** This process's ancestors in its session: the direct parent always, then up to the session leader; never pid 1. */
export function sessionAncestors(): Ancestor[] {
  const me = procStat(process.pid);
  if (!me) return [];
  const out: Ancestor[] = [];
  let pid = me.ppid;
  while (pid > 1 && out.length < 64) {
    const st = procStat(pid);
    const start = processStartTime(pid);
    if (!st || !start) break;
    if (out.length > 0 && st.sid !== me.sid) break;
    out.push({ pid, start, comm: st.comm });
    if (pid === me.sid) break; // the session leader: the shell or job that started us
    pid = st.ppid;
  }
  return out;
}

/**
 * Call `gone` (once) when one of `ancestors` has exited. Checks every
 * `everyMs`; the timer does not keep the process alive. Returns a stop function.
 */
export function watchAncestors(ancestors: Ancestor[], gone: (a: Ancestor) => void, everyMs = 200): () => void {
  if (ancestors.length === 0) return () => {};
  let tick = 0;
  const timer = setInterval(() => {
    // kill(pid, 0) is one system call; reading /proc/PID/stat for the start
    // time costs far more, and five ancestors read five times a second were
    // most of an idle lab's CPU. So the start time (a pid reused by another
    // process) is checked once every STAT_EVERY ticks, the existence every tick.
    const full = tick++ % STAT_EVERY === 0;
    const dead = ancestors.find((a) => !exists(a.pid) || (full && processStartTime(a.pid) !== a.start));
    if (!dead) return;
    clearInterval(timer);
    gone(dead);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
