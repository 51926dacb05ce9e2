// End-to-end, as root: a forwarding worker that dies after `ready` (issue 11,
// item 10). Nothing outside can kill one thread of the lab's process, so the
// lab started with PODWIRE_TEST_HOOKS=1 takes a `test-crash-worker` control
// request that makes the worker throw in its loop, as an uncaught error there
// would. The lab restarts it with its tables reprogrammed, `status` says so,
// and a worker that keeps dying takes the lab down with a clear message.
import { describe, it, expect, afterAll, vi } from 'vitest';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab, stopAllLabs, hostLeftovers, podwire, isRoot, statePathOf, readStateFile, sleep } from '../helpers/lab.ts';
import { ping } from '../helpers/traffic.ts';
import { requestControl } from '../../src/lab/control.ts';

const STATE = vi.hoisted(() => {
  const dir = `/tmp/pw-worker-state-${process.pid}`;
  process.env.PODWIRE_STATE_DIR = dir;
  process.env.PODWIRE_TEST_HOOKS = '1';
  return dir;
});

if (!isRoot) console.warn('test/e2e/worker-restart.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

function topology(pods: string[], cidr: string, extra: string[] = []): string {
  return ['cluster:', `  clusterCIDR: ${cidr}`, 'nodes:', '  - name: n1', `    pods: [${pods.join(', ')}]`, ...extra, ''].join('\n');
}

afterAll(async () => {
  await stopAllLabs();
  rmSync(STATE, { recursive: true, force: true });
});

async function nsExists(ns: string): Promise<boolean> {
  return (await hostLeftovers([ns])).namespaces.includes(ns);
}

interface DataplaneStatus { worker: string; restarts: number; lastFailure?: string }

describe.skipIf(!isRoot)('forwarding worker lifecycle (root)', () => {
  it('a forwarding worker that dies after ready is restarted with its tables; status says so', async () => {
    const svc = ['services:', '  - name: web', '    selector: { app: web }', '    ports: [{ port: 80, targetPort: 8080 }]'];
    const lab = await startLab(topology(['lcw-a', '{ name: lcw-b, labels: { app: web } }'], '10.236.0.0/16', svc), { name: 'lc-worker' });
    try {
      expect((await ping('pw-lcw-a', '10.236.0.3')).code).toBe(0);
      // a Service applied while the lab runs: the restarted worker must get it too (the plan as it is now)
      const f = join(STATE, 'api.yaml');
      writeFileSync(f, 'apiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec:\n  selector: { app: web }\n  ports: [{ port: 8081, targetPort: 8080 }]\n');
      const ap = await podwire(['apply', f, '--name', 'lc-worker']);
      expect(ap.code, ap.stderr).toBe(0);
      const api = (await lab.status()).services.find((x) => x.name === 'api')!.clusterIP;
      const socket = (readStateFile('lc-worker') as unknown as { socket: string }).socket;
      await requestControl(socket, 'test-crash-worker');
      let s = await lab.status();
      for (let i = 0; i < 50 && (s as unknown as { dataplane?: DataplaneStatus }).dataplane?.worker !== 'running'; i++) {
        await sleep(100);
        s = await lab.status();
      }
      const dp = (s as unknown as { dataplane: DataplaneStatus }).dataplane;
      expect(dp.worker).toBe('running');
      expect(dp.restarts).toBe(1);
      expect(dp.lastFailure).toMatch(/test-crash-worker/);
      expect(lab.output()).toMatch(/data plane worker died.*restarted/);
      const p = await ping('pw-lcw-a', '10.236.0.3');
      expect(p.code, p.stdout + p.stderr).toBe(0);
      // the Service frontend was reprogrammed into the new worker's tables
      const t = await podwire(['services', '--json', '--name', 'lc-worker']);
      expect(t.code, t.stderr).toBe(0);
      const frontends = JSON.parse(t.stdout) as unknown;
      const text = JSON.stringify(frontends);
      expect(text).toContain('"10.96.0.1"');
      expect(text).toContain(`"${api}"`);
      expect(text).toContain('10.236.0.3');
    } finally {
      await lab.stop();
    }
  });

  it('a worker that keeps dying takes the lab down with a clear message', async () => {
    const lab = await startLab(topology(['lcx-a'], '10.237.0.0/16'), { name: 'lc-crashloop' });
    const socket = (readStateFile('lc-crashloop') as unknown as { socket: string }).socket;
    const exited = new Promise<number | null>((r) => lab.proc.once('exit', (c) => r(c)));
    for (let i = 0; i < 10 && lab.proc.exitCode === null; i++) {
      await requestControl(socket, 'test-crash-worker').catch(() => {});
      await sleep(500);
    }
    const code = await Promise.race([exited, sleep(15_000).then(() => 'still running')]);
    expect(code).toBe(1);
    expect(lab.output()).toMatch(/data plane worker died .*taking the lab down/);
    expect(await nsExists('pw-lcx-a')).toBe(false);
    expect(existsSync(statePathOf('lc-crashloop'))).toBe(false);
  });

});
