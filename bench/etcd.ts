// A throwaway etcd for tests and bench store (Debian's etcd-server): a temporary data
// directory, client and peer URLs on the given address (loopback, or an
// address inside a test's own namespace via `netns`), stopped and removed by
// stop(). start() resolves once etcd answers on its client port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export const hasEtcd = spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;

export interface TestEtcd { url: string; dir: string; proc: ChildProcess; stop(): Promise<void>; restart(): Promise<void> }

/** A free TCP port on 127.0.0.1 (closed again at once: a small race, fine for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startEtcd(opts: { ip?: string; port?: number; netns?: string } = {}): Promise<TestEtcd> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? await freePort();
  const peer = opts.port ? port + 1 : await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pw-etcd-'));
  const args = [
    '--name', 'pw-test', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', `http://${ip}:${port}`, '--advertise-client-urls', `http://${ip}:${port}`,
    '--listen-peer-urls', `http://${ip}:${peer}`, '--initial-advertise-peer-urls', `http://${ip}:${peer}`,
    '--initial-cluster', `pw-test=http://${ip}:${peer}`, '--log-level', 'error',
  ];
  const url = `etcd://${ip}:${port}`;
  const launch = async (): Promise<ChildProcess> => {
    const p = opts.netns ? spawn('nsenter', [`--net=/run/netns/${opts.netns}`, 'etcd', ...args], { stdio: 'ignore' }) : spawn('etcd', args, { stdio: 'ignore' });
    const until = Date.now() + 15_000;
    for (;;) {
      // etcd's /health answers once it serves clients (curl: no etcdctl needed)
      const curl = ['curl', '-sf', '-m', '1', `http://${ip}:${port}/health`];
      const probe = opts.netns ? spawnSync('nsenter', [`--net=/run/netns/${opts.netns}`, ...curl], { stdio: 'ignore' }) : spawnSync(curl[0], curl.slice(1), { stdio: 'ignore' });
      if (probe.status === 0) return p;
      if (p.exitCode !== null || Date.now() > until) {
        p.kill('SIGKILL');
        throw new Error(`etcd did not come up at ${url} (exit ${p.exitCode})`);
      }
      await new Promise((r2) => setTimeout(r2, 100));
    }
  };
  const e: TestEtcd = {
    url, dir, proc: await launch(),
    stop: async () => {
      await kill(e.proc);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await kill(e.proc);
      e.proc = await launch();
    },
  };
  return e;
}

function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}
