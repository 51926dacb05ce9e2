// End-to-end, as root: `podwire exec POD -- CMD` (issue 18) runs CMD in the
// pod's network namespace, as `kubectl exec` feels: the pod's own address
// and routes, stdin passed through, the exit code returned (a signal as
// 128+N), pods of other namespaces with -n, external hosts by name, and
// clear errors for an unknown pod (the candidates listed) or no lab.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { rmSync } from 'node:fs';
import { startLab, stopAllLabs, podwire, isRoot, type RunningLab } from '../helpers/lab.ts';

const STATE = vi.hoisted(() => {
  const dir = `/tmp/pw-exec-state-${process.pid}`;
  process.env.PODWIRE_STATE_DIR = dir;
  return dir;
});

if (!isRoot) console.warn('test/e2e/exec.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'exec';
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.247.0.0/16',
  '  underlayCIDR: 172.31.247.0/24',
  'namespaces: [{ name: shop }]',
  'external: [exh]',
  'nodes:',
  '  - name: n1',
  '    pods: [exa, { name: exb, namespace: shop }]',
  '',
].join('\n');

describe.skipIf(!isRoot)('podwire exec', () => {
  let lab: RunningLab;
  beforeAll(async () => { lab = await startLab(TOPOLOGY, { name: LAB }); }, 60_000);
  afterAll(async () => { await stopAllLabs(); rmSync(STATE, { recursive: true, force: true }); });

  it("runs in the pod's network namespace: its eth0 carries the pod's address", async () => {
    const s = await lab.status();
    const exa = s.pods.find((p) => p.name === 'exa')!;
    const r = await podwire(['exec', 'exa', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${exa.ip}/`);
  });

  it('passes the exit code through, and a signal as 128+N', async () => {
    expect((await podwire(['exec', 'exa', '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await podwire(['exec', 'exa', '--', 'true'])).code).toBe(0);
    expect((await podwire(['exec', 'exa', '--', 'sh', '-c', 'kill -TERM $$'])).code).toBe(128 + 15);
    expect((await podwire(['exec', 'exa', '--', 'sh', '-c', 'kill -KILL $$'])).code).toBe(128 + 9);
  });

  it('passes stdin through, and stdout and stderr apart', async () => {
    const input = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const r = await podwire(['exec', 'exa', '--', 'sh', '-c', 'wc -c; echo oops >&2'], { input });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('100000');
    expect(r.stderr.trim()).toBe('oops');
  });

  it('finds a pod in another Kubernetes namespace (-n, NAMESPACE/NAME) and an external host', async () => {
    const s = await lab.status();
    const exb = s.pods.find((p) => p.name === 'exb')!;
    for (const args of [['exb', '-n', 'shop'], ['shop/exb'], ['exb.shop']]) {
      const r = await podwire(['exec', ...args, '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`${exb.ip}/`);
    }
    const host = await podwire(['exec', 'exh', '--', 'sh', '-c', 'ip -4 -o addr | grep -c 172.31.247.']);
    expect(host.code, host.stderr).toBe(0);
  });

  it('an unknown pod: exit 1 naming the pod and listing the candidates; the command never runs', async () => {
    const r = await podwire(['exec', 'nope', '--', 'touch', `/tmp/pw-exec-ran-${process.pid}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no pod "nope" in namespace "default" of lab "exec"');
    expect(r.stderr).toMatch(/exa, shop\/exb, .*exh \(external\)/);
    const wrongNs = await podwire(['exec', 'exb', '--', 'true']);
    expect(wrongNs.code).toBe(1);
    expect(wrongNs.stderr).toContain('no pod "exb" in namespace "default"');
  });

  it('no such lab: a clear error', async () => {
    const r = await podwire(['exec', 'exa', '--name', 'nolab', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lab "nolab" is not running');
  });
});
