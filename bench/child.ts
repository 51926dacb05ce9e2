// Child-process helpers shared by the baseline and the probes (own file so neither imports the other).
import type { ChildProcess } from 'node:child_process';

/** Resolve once the child prints a line matching `re` on stdout; reject on exit or timeout. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const done = (e?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.off('exit', onExit);
      e ? reject(e) : resolve();
    };
    const onOut = (d: Buffer) => {
      out += d;
      if (re.test(out)) done();
    };
    const onExit = (code: number | null) => done(new Error(`${child.spawnargs.join(' ')} exited (${code}) before ${re}: ${err || out}`));
    const timer = setTimeout(() => done(new Error(`${child.spawnargs.join(' ')}: no ${re} within ${timeoutMs} ms: ${err || out}`)), timeoutMs);
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', (d: Buffer) => (err += d));
    child.on('exit', onExit);
  });
}

/** SIGTERM the child we started (by its own handle) and wait for it; SIGKILL after 2 s. */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
