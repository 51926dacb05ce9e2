// `podwire up -d`: the same `podwire up`, run again as a child in a session
// of its own (no terminal, no parent to watch), its output in a log file in
// the state directory. The command that started it waits on an IPC channel
// until the lab says it is ready, then lets go and returns; a child that
// exits first failed to start, and its log says why. `podwire down` stops it
// like any lab (the state file names its pid).
import { spawn } from 'node:child_process';
import { openSync, closeSync, fstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureStateDir, STATE_DIR } from './state.ts';

/** Set in the detached child's environment: it runs the lab and reports readiness instead of detaching again. */
export const DETACHED_ENV = 'PODWIRE_UP_DETACHED';

export function labLogPath(lab: string): string {
  return join(STATE_DIR, `${lab}.log`);
}

export interface Detached { pid: number; log: string; output: string }

/** Run `node ARGV` (the CLI's own `up` command line) detached; resolves once it is ready. */
export function startDetached(lab: string, argv: string[]): Promise<Detached> {
  ensureStateDir();
  const log = labLogPath(lab);
  // appended, never truncated: a failed second start must not wipe a running lab's log
  const fd = openSync(log, 'a', 0o600);
  const from = fstatSync(fd).size;
  const child = spawn(process.execPath, [...process.execArgv, ...argv], {
    detached: true, // setsid(): no controlling terminal, no SIGHUP when ours goes
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, [DETACHED_ENV]: '1' },
  });
  closeSync(fd);
  // this start's lines only
  const logText = () => { try { return readFileSync(log).subarray(from).toString('utf8').trimEnd(); } catch { return ''; } };
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`the lab did not start (its process ${signal ? `was killed by ${signal}` : `exited with ${code}`}); ${log}:\n${logText()}`));
    child.once('exit', onExit);
    child.once('error', (e) => reject(new Error(`cannot start the lab process: ${e.message}`)));
    child.on('message', (m) => {
      if (m !== 'ready') return;
      child.off('exit', onExit);
      child.disconnect();
      child.unref();
      resolve({ pid: child.pid!, log, output: logText() });
    });
  });
}

/** In the detached child, once the lab is up: tell the waiting `up -d`, then close the channel (it is gone soon). */
export function announceReady(): void {
  if (process.env[DETACHED_ENV] !== '1' || !process.send) return;
  process.send('ready', () => process.disconnect());
}

export function isDetachedChild(): boolean {
  return process.env[DETACHED_ENV] === '1';
}
