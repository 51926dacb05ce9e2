// Every NetworkPolicy script of the truth-table cases (src/lab/kernel-netpol.ts),
// for both nodes, loaded for real by the kernel: `nft -c -f` (check) then
// `nft -f` twice (the atomic replace works on a node that already has the
// table) inside a throwaway, unnamed network namespace (`unshare --net`: it
// dies with the command, nothing on the host changes). Root and nft needed.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { planTopology } from '../../src/model/topology.ts';
import { compilePlanPolicies } from '../../src/model/network-policy-compile.ts';
import { netpolRules } from '../../src/lab/kernel-netpol.ts';
import { truthTopology, TRUTH_CASES, ipBlockCase } from '../helpers/netpol-cases.ts';

const isRoot = process.getuid?.() === 0;
const nft = (() => { try { execFileSync('nft', ['--version']); return true; } catch { return false; } })();
if (!isRoot || !nft) console.warn('test/lab/kernel-netpol-load.test.ts: skipped — needs root and the nft program (apt-get install nftables)');

/** Run `sh -c script` in a fresh network namespace with `files` as $1..$n; returns stdout. */
function inFreshNetns(script: string, files: string[]): string {
  return execFileSync('unshare', ['--net', 'sh', '-ec', script, 'sh', ...files], { encoding: 'utf8' });
}

describe.skipIf(!isRoot || !nft)('kernel NetworkPolicy scripts load into the kernel (root, nft)', () => {
  const mixed = {
    name: 'SCTP with endPort, named UDP ports both ways, ipBlock except outside the cluster',
    policies: [{ name: 'mixed', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [{ protocol: 'SCTP', port: 80, endPort: 90 }, { protocol: 'UDP', port: 'serve-81-udp' }] }],
      egress: [
        { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.1.0/24', '10.244.1.4/32'] } }], ports: [{ protocol: 'SCTP', port: 132 }] },
        { to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 'serve-80-udp' }] },
      ] } }],
    allowed: () => true,
  };
  const cases = [...TRUTH_CASES, ipBlockCase(() => '10.244.1.5', '10.244.0.0/16'), mixed];
  for (const tc of cases) it(tc.name, async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'pw-knp-'));
    try {
      const plan = planTopology(truthTopology({ networkPolicies: tc.policies }));
      const files = ['n1', 'n2'].map((n) => {
        const f = join(dir, `${n}.nft`);
        writeFileSync(f, netpolRules(compilePlanPolicies(plan, n)));
        return f;
      });
      // check, load, load again (the replace path), then count what the kernel holds
      const out = inFreshNetns('for f in "$@"; do nft -c -f "$f"; nft -f "$f"; nft -f "$f"; nft list table inet pw_netpol | { grep -c "counter packets 0 bytes 0" || true; }; done', files);
      const loaded = out.trim().split('\n').map(Number);
      const want = files.map((_, i) => netpolRules(compilePlanPolicies(plan, ['n1', 'n2'][i])).split('\n').filter((l) => / counter /.test(l)).length);
      expect(loaded).toEqual(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
