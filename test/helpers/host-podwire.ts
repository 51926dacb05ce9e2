// One podwire process running one node of a multi-host lab inside a host
// namespace, as the cross-host and shared-store suites start them: nsenter
// execs podwire in place, so proc.pid is podwire's own pid, the one its
// state file records.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { PODWIRE, REPO, podwire, sleep, readStateFile } from './lab.ts';

export interface HostProc {
  node: string;
  /** the lab's name on this host (<lab>-<node>) */
  id: string;
  proc: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  exited: Promise<number>;
  /** `signal` (SIGTERM); after 5 s SIGKILL, then `podwire down` if it left its lab behind. Resolves with the exit code (128 + signal if killed); a second call gets the first one's answer. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

const STOP_GRACE_MS = 5_000;

/**
 * `nsenter --net=/run/netns/HOST podwire ARGS...` (an `up --node NODE`); resolves once it printed
 * `ready`, or stops it and throws with its output. `running` holds it until it is stopped.
 * `env`: variables added to this process's environment for it.
 */
export async function startHostPodwire(host: string, node: string, id: string, args: string[], running: Set<HostProc>, readyTimeoutMs: number, env?: NodeJS.ProcessEnv): Promise<HostProc> {
  const proc = spawn('nsenter', [`--net=/run/netns/${host}`, process.execPath, PODWIRE, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const exited = new Promise<number>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? 128 + (sig ? constants.signals[sig] : 0))));
  let code: number | undefined;
  void exited.then((c) => { code = c; });
  let stopping: Promise<number> | undefined;
  const h: HostProc = {
    node, id, proc, output: () => out, exited,
    stop: (signal = 'SIGTERM') => {
      stopping ??= (async () => {
        if (code === undefined) {
          proc.kill(signal);
          const c = await Promise.race([exited, sleep(STOP_GRACE_MS).then(() => undefined)]);
          if (c === undefined) proc.kill('SIGKILL');
        }
        const c = await exited;
        running.delete(h);
        // it died without cleaning up: its state file still names its pid
        if (readStateFile(id)?.pid === proc.pid) await podwire(['down', '--name', id], { timeoutMs: 20_000 });
        return c;
      })();
      return stopping;
    },
  };
  running.add(h);
  for (let t = 0; !/^ready\b/m.test(out); t += 20) {
    if (code !== undefined || t > readyTimeoutMs) {
      const c = await h.stop();
      throw new Error(`podwire up --node ${node} in ${host}: not ready (exit ${c}):\n${out}`);
    }
    await sleep(20);
  }
  return h;
}

/** For a process 'exit' handler (synchronous): kill what still runs and remove the labs they leave. */
export function killHostsNow(running: Set<HostProc>): void {
  for (const h of running) {
    try { h.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
  for (const h of running) {
    spawnSync('sh', ['-c', `while kill -0 ${h.proc.pid} 2>/dev/null; do sleep 0.05; done`], { timeout: 3000 });
    if (readStateFile(h.id)?.pid === h.proc.pid) spawnSync(process.execPath, [PODWIRE, 'down', '--name', h.id], { stdio: 'ignore', timeout: 20_000 });
  }
}
