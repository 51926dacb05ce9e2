// A real nginx (the Debian package's /usr/sbin/nginx) run inside a pw-
// network namespace with its own prefix directory: config, pid file, logs and
// temp files all live there, never the host's /etc/nginx or /var/log/nginx,
// and the host's nginx service is never touched. A new config is checked
// with `nginx -t` first: one nginx refuses leaves the running one in place
// and the error is returned. Reload is nginx's own graceful SIGHUP: new
// workers take new connections, old workers finish the requests they hold.
import { existsSync, mkdirSync, chmodSync, writeFileSync, renameSync, readFileSync, statSync, rmSync, mkdtempSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { netnsExec, run } from '../io/netns.ts';
import { NGINX_FILES } from './nginx-config.ts';

/** The Debian packages that provide /usr/sbin/nginx. */
export const NGINX_PACKAGES = 'nginx-light (or nginx)';

/** The nginx binary: PATH, then the sbin directories a non-root PATH may lack; undefined when none. */
export function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const f = join(d, 'nginx');
    try { if (statSync(f).isFile()) return f; } catch { /* not here */ }
  }
  return undefined;
}

/** Whether nginx can be run, and if not a message naming the package to install. */
export function nginxAvailable(): { ok: true; path: string } | { ok: false; message: string } {
  const path = findNginx();
  if (path) return { ok: true, path };
  return { ok: false, message: `nginx not found (looked in PATH and /usr/sbin): install the Debian package ${NGINX_PACKAGES}: apt-get install nginx-light` };
}

function nginxPath(): string {
  const a = nginxAvailable();
  if (!a.ok) throw new Error(a.message);
  return a.path;
}

/** Create the directories nginx writes under `prefix` (logs, temp files). Workers run as nobody: they must reach the temp directories. */
function preparePrefix(prefix: string): void {
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  mkdirSync(join(prefix, NGINX_FILES.tempDir), { recursive: true });
  chmodSync(prefix, 0o755);
}

/**
 * `nginx -t` on `config` (text) written as PREFIX/nginx.conf.next: resolves
 * with that file's path when nginx accepts it, rejects with nginx's own
 * message otherwise. Needs no namespace: -t binds nothing.
 */
export async function testNginxConfig(prefix: string, config: string): Promise<string> {
  preparePrefix(prefix);
  const next = join(prefix, 'nginx.conf.next');
  writeFileSync(next, config);
  try {
    await run(nginxPath(), ['-t', '-q', '-p', prefix, '-c', next, '-e', NGINX_FILES.errorLog], { timeoutMs: 15_000 });
  } catch (e) {
    const msg = (e as Error).message.replace(/^`[^`]*` failed \([^)]*\): /, '');
    throw new Error(`nginx refused the new configuration (${next}): ${msg}`);
  }
  return next;
}

export interface NginxStartOptions {
  /** the pw- network namespace nginx listens in */
  ns: string;
  /** the first configuration (rendered by nginx-config.ts) */
  config: string;
  /** the prefix directory; default a new pw-nginx-* directory under the temp dir, removed by stop() */
  prefix?: string;
}

/** One nginx master (and its workers) in a namespace. */
export class NginxProcess {
  private exited = false;
  private exitWaiters: (() => void)[] = [];
  private stderr = '';

  private constructor(readonly ns: string, readonly prefix: string, private readonly ownPrefix: boolean, private readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    child.stdout?.resume();
    child.on('exit', () => { this.exited = true; live.delete(this); for (const w of this.exitWaiters.splice(0)) w(); });
    live.add(this);
  }

  /** nginx.conf, the configuration running now */
  get configPath(): string { return join(this.prefix, 'nginx.conf'); }
  get accessLogPath(): string { return join(this.prefix, NGINX_FILES.accessLog); }
  get errorLogPath(): string { return join(this.prefix, NGINX_FILES.errorLog); }
  /** the master's pid */
  get pid(): number { return this.child.pid!; }
  get running(): boolean { return !this.exited; }

  /**
   * Check `config` with nginx -t, then run nginx in the foreground (`daemon
   * off`, so this object owns the master) inside `ns`. Resolves once the pid
   * file exists: nginx writes it after binding its listening sockets.
   */
  static async start(opts: NginxStartOptions): Promise<NginxProcess> {
    const prefix = opts.prefix ?? mkdtempSync(join(tmpdir(), 'pw-nginx-'));
    let child: ChildProcess | undefined;
    try {
      const next = await testNginxConfig(prefix, opts.config);
      const conf = join(prefix, 'nginx.conf');
      renameSync(next, conf);
      rmSync(join(prefix, NGINX_FILES.pid), { force: true });
      child = netnsExec(opts.ns, [nginxPath(), '-p', prefix, '-c', conf, '-e', NGINX_FILES.errorLog, '-g', 'daemon off;']);
      const nginx = new NginxProcess(opts.ns, prefix, opts.prefix === undefined, child);
      await nginx.waitFor(() => existsSync(join(prefix, NGINX_FILES.pid)), 10_000, 'write its pid file (listening)');
      return nginx;
    } catch (e) {
      child?.kill('SIGKILL');
      if (opts.prefix === undefined) rmSync(prefix, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Apply a new configuration: nginx -t, then (only if accepted) replace
   * nginx.conf and send SIGHUP. Resolves when new connections go to the new
   * configuration's workers; old workers finish their requests on their own.
   * A refused configuration rejects with nginx's message, the running one untouched.
   * The wait reads the error log at notice level, as renderNginxConfig sets it.
   */
  async reload(config: string): Promise<void> {
    if (this.exited) throw new Error(`nginx in ${this.ns} is not running: ${this.stderr.trim() || 'it exited'}`);
    const next = await testNginxConfig(this.prefix, config);
    const logBefore = this.errorLogSize();
    renameSync(next, this.configPath);
    this.child.kill('SIGHUP');
    // at notice level the master logs "reconfiguring" and "start worker process N" for the new
    // generation, then each old worker "gracefully shutting down" once told to quit: from then on
    // it accepts nothing new (it has closed its listening sockets) and only finishes what it holds
    await this.waitFor(() => /reconfiguring[\s\S]*start worker process[\s\S]*gracefully shutting down/.test(this.errorLogSince(logBefore)), 10_000, 'hand new connections to the new configuration');
  }

  /** Stop nginx (SIGTERM: the master stops its workers), SIGKILL after 5 s; the prefix is removed if start() made it. */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await new Promise<void>((r) => (this.exited ? r() : this.exitWaiters.push(r)));
      clearTimeout(killer);
    }
    if (this.ownPrefix) rmSync(this.prefix, { recursive: true, force: true });
  }

  private errorLogSize(): number {
    try { return statSync(this.errorLogPath).size; } catch { return 0; }
  }
  private errorLogSince(offset: number): string {
    try { return readFileSync(this.errorLogPath).subarray(offset).toString(); } catch { return ''; }
  }

  private async waitFor(ok: () => boolean, ms: number, what: string): Promise<void> {
    const until = Date.now() + ms;
    while (!ok()) {
      if (this.exited) throw new Error(`nginx in ${this.ns} exited before it could ${what}: ${this.stderr.trim() || this.errorLogSince(0).trim().split('\n').slice(-3).join(' | ')}`);
      if (Date.now() > until) throw new Error(`nginx in ${this.ns} did not ${what} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

// masters still running when this process exits get SIGTERM: nginx then stops its workers itself
const live = new Set<NginxProcess>();
process.on('exit', () => { for (const n of live) try { process.kill(n.pid, 'SIGTERM'); } catch { /* gone */ } });
