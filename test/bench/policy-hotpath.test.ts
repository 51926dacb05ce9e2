// Smoke test of the NetworkPolicy hot-path suite (bench/policy-hotpath.ts) at
// a small size: the policy mix really isolates the rig's clients and
// backends (so new connections are judged both ways) and admits its
// traffic; a policy set that denies it fails the suite's checks instead of
// being timed; the report and the goals come out of the results.
import { describe, it, expect } from 'vitest';
import { runPolicyHotpath, policyTargetChecks, policyReport } from '../../bench/policy-hotpath.ts';
import { policyPods, policyNamespaces, policySet, CLIENTS, BACKENDS } from '../../bench/policy-cluster.ts';
import { ServiceRig } from '../../bench/service-hotpath.ts';
import { compilePolicies, decidePolicy } from '../../src/model/network-policy-compile.ts';
import { programPolicies } from '../../src/dataplane/policy-sync.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';

describe('NetworkPolicy hot-path suite, small', () => {
  it('the mix isolates clients (egress) and backends (ingress) and admits client -> backend:8080 only', () => {
    const pods = policyPods(600);
    const c = compilePolicies('n1', pods, policyNamespaces(), policySet(30));
    expect(c.pods).toHaveLength(CLIENTS + BACKENDS);
    const client = c.pods.find((p) => p.namespace === 'front')!, backend = c.pods.find((p) => p.namespace === 'bench')!;
    expect(client.egress.length).toBeGreaterThan(0);
    expect(backend.ingress.length).toBeGreaterThan(0);
    const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    expect(decidePolicy(c, 'ingress', ip(backend.ip), ip(client.ip), 6, 8080).allowed).toBe(true);
    expect(decidePolicy(c, 'ingress', ip(backend.ip), ip(client.ip), 6, 8081).allowed).toBe(false);
    expect(decidePolicy(c, 'egress', ip(client.ip), ip(backend.ip), 6, 8080).allowed).toBe(true);
    expect(decidePolicy(c, 'egress', ip(client.ip), '192.0.2.1', 6, 8080).allowed).toBe(false);
  });

  it('a policy set that denies the traffic fails the batch check (nothing denied is timed)', () => {
    const rig = new ServiceRig({ ctCapacity: 4096, templates: 2048, svcCapacity: 64 });
    rig.setServices(10);
    const problems: string[] = [];
    const deny = parseNetworkPolicyList([{ name: 'deny', namespace: 'bench', spec: { podSelector: {} } }], problems);
    programPolicies(rig.dp, compilePolicies('n1', policyPods(300), policyNamespaces(), deny));
    rig.loadSyns(10, 1024);
    rig.useBatch(256);
    const bad = rig.checkBatch();
    expect(bad[0]).toMatch(/0 frames out of 256/);
    expect(rig.dp.counters().drops.policy_denied_ingress).toBe(256);
  });

  it('runs: every count and round measured and checked, the update timed, goals and report derived', async () => {
    const d = await runPolicyHotpath({ pods: 400, policyCounts: [0, 10, 30], rounds: 2, maxTime: 0.01, minTime: 0.002, flows: 500, templates: 1 << 15, updateRepeats: 1, pairs: 40, log: () => {} });
    expect(d.results).toHaveLength(2 * 3 * 2);
    expect(d.results.every((r) => r.framesChecked > 0 && r.nsPerPacket > 0)).toBe(true);
    expect(d.programs.map((p) => p.isolatedPods)).toEqual([0, CLIENTS + BACKENDS, CLIENTS + BACKENDS]);
    expect(d.update.map((u) => u.policies)).toEqual([10, 30]);
    expect(d.paired!.map((p) => `${p.suite} ${p.policies}/${p.versus}`)).toEqual(['established 10/0', 'established 30/0', 'new-conn 30/10']);
    expect(d.paired!.every((p) => p.pairs === 40 && p.ratio > 0 && p.ratioP25 <= p.ratio && p.ratio <= p.ratioP75)).toBe(true);
    expect(policyTargetChecks(d).map((c) => c.name)).toEqual(['established, 30 vs no policies (per-packet cost)', 'new connections, 30 vs 10 policies (per-packet cost)']);
    expect(policyTargetChecks({ ...d, paired: [] }).map((c) => c.name)).toEqual(['established, 30 policies vs none (per-packet cost)', 'new connections, 30 vs 10 policies (per-packet cost)']);
    expect(policyReport(d).filter((l) => /vs no policies/.test(l))).toHaveLength(4);
  }, 120_000);
});
