// PolicyControl with kernel nodes (src/lab/policy-control.ts), without a
// network: a change the kernel refuses (`nft -c`) changes no node, podwire or
// kernel; a load failing after podwire nodes took the change puts every node
// back; `policies` names who enforces and the kernel's deny counts.
import { describe, it, expect } from 'vitest';
import { planTopology } from '../../src/model/topology.ts';
import { parseApplyFile } from '../../src/model/apply.ts';
import { PolicyControl } from '../../src/lab/policy-control.ts';
import { KernelPolicies } from '../../src/lab/kernel-policies.ts';
import type { CompiledPolicies } from '../../src/model/network-policy-compile.ts';
import { stringify } from 'yaml';
import { truthTopology, TRUTH_CASES } from '../helpers/netpol-cases.ts';

/** A KernelPolicies whose nft is a script: `check` / `load` fail when told to, and every load is recorded. */
class FakeKernel extends KernelPolicies {
  loads: Map<string, string>[] = [];
  refuse = false;
  failLoad = false;
  constructor() { super([{ node: 'k1', ns: 'pw-node-t-k1' }]); }
  override async check(): Promise<void> { if (this.refuse) throw new Error('kernel node k1: nft refused the NetworkPolicy rules: Error: syntax error'); }
  override async load(scripts: Map<string, string>): Promise<void> {
    if (this.failLoad) { this.failLoad = false; throw new Error('kernel node k1: loading the NetworkPolicy rules failed'); }
    this.loads.push(scripts);
  }
  override async denied(): Promise<Map<string, number>> { return new Map([['ingress-x/a', 7]]); }
}

function setup() {
  const plan = planTopology(truthTopology({}, { underlay: 'bridge' }, 'kernel'));
  const kernel = new FakeKernel();
  const synced: { node: string; isolated: number }[] = [];
  const lab = {
    kernelPolicies: kernel,
    async syncPolicies(node: string, c: CompiledPolicies) { synced.push({ node, isolated: c.pods.length }); },
  };
  return { plan, kernel, synced, control: new PolicyControl(plan, lab) };
}
const specs = (policies: (typeof TRUTH_CASES)[number]['policies']) =>
  (parseApplyFile(stringify({ networkPolicies: policies }), 'p.yaml').networkPolicies ?? []).map((x) => x.value);

describe('PolicyControl with a kernel node', () => {
  it('applies to podwire nodes and loads the kernel node\'s rules rendered from the same policies', async () => {
    const { control, kernel, synced } = setup();
    await control.apply(specs(TRUTH_CASES[0].policies));
    expect(synced.map((s) => s.node)).toEqual(['n1']);
    expect(kernel.loads).toHaveLength(1);
    expect(kernel.loads[0].get('k1')).toContain('add rule inet pw_netpol ingress-x/a counter drop comment "denied: isolated by x/deny-all"');
  });

  it('a change nft refuses changes no node and no policy', async () => {
    const { control, kernel, synced } = setup();
    kernel.refuse = true;
    await expect(control.apply(specs(TRUTH_CASES[0].policies))).rejects.toThrow('kernel node k1: nft refused');
    expect(synced).toEqual([]);
    expect(kernel.loads).toEqual([]);
    expect((await control.snapshot()).policies).toEqual([]);
  });

  it('a kernel load failing after the podwire nodes changed puts every node back', async () => {
    const { control, kernel, synced, plan } = setup();
    await control.apply(specs(TRUTH_CASES[1].policies));
    synced.length = 0;
    kernel.loads.length = 0;
    kernel.failLoad = true;
    await expect(control.apply(specs(TRUTH_CASES[0].policies))).rejects.toThrow('loading the NetworkPolicy rules failed');
    expect((await control.snapshot()).policies).toEqual(['x/from-y']);
    expect(plan.networkPolicies!.map((p) => p.name)).toEqual(['from-y']);
    // n1 took deny-all (its x pods isolated), then went back to from-y (x/a lives on k1: nothing isolated on n1)
    expect(synced).toEqual([{ node: 'n1', isolated: 2 }, { node: 'n1', isolated: 0 }]);
    expect(kernel.loads).toHaveLength(1);
    expect(kernel.loads[0].get('k1')).toContain('comment "denied: isolated by x/from-y"');
    expect(kernel.loads[0].get('k1')).not.toContain('x/deny-all');
  });

  it('policies: enforcedBy nftables on the kernel node, with its deny counts', async () => {
    const { control } = setup();
    await control.apply(specs(TRUTH_CASES[0].policies));
    const pods = (await control.snapshot()).pods;
    expect(pods.map((p) => `${p.node} ${p.pod} ${p.enforcedBy} ${JSON.stringify(p.denied ?? null)}`)).toEqual([
      'n1 x/b podwire null', 'n1 x/c podwire null', 'k1 x/a nftables {"ingress":7}',
    ]);
  });

  it('pods changed (a runtime\'s pod attached, then removed): the same policies select it by its labels, on podwire and kernel nodes', async () => {
    const { control, kernel, synced, plan } = setup();
    await control.apply(specs(TRUTH_CASES[1].policies)); // x/from-y isolates pod=a in namespace x
    synced.length = 0;
    kernel.loads.length = 0;
    const n1 = plan.nodes.find((n) => n.name === 'n1')!;
    const pod = { ...n1.pods[0], name: 'rt', labels: { pod: 'a' }, k8sNamespace: 'x', ip: '10.244.0.77', mac: '0a:58:0a:f4:00:4d', port: 6 };
    n1.pods.push(pod);
    await control.podsChanged();
    expect(synced).toEqual([{ node: 'n1', isolated: 1 }]);
    expect((await control.snapshot()).pods.find((p) => p.pod === 'x/rt')).toMatchObject({ node: 'n1', ip: '10.244.0.77', ingress: { isolatedBy: ['x/from-y'] } });
    expect(kernel.loads).toHaveLength(1); // the kernel node's rules are rendered again too
    n1.pods.pop();
    await control.podsChanged();
    expect(synced.at(-1)).toEqual({ node: 'n1', isolated: 0 });
    expect((await control.snapshot()).pods.map((p) => p.pod)).not.toContain('x/rt');
  });

  it('pods changed with no policy: nothing is programmed', async () => {
    const { control, kernel, synced } = setup();
    await control.podsChanged();
    expect([synced, kernel.loads]).toEqual([[], []]);
  });
});
