// A Service flow denied by NetworkPolicy on the node that translated it
// (assembly/stages/policy.ts deny): Service NAT made a conntrack entry for
// it before the policy stage judged it, and that entry must go, or later
// packets of the flow would pass as established (the entry is found again by
// the translated packet's reversed tuple: its reply tuple).
import { describe, it, expect } from 'vitest';
import { programPolicies } from '../../src/dataplane/policy-sync.ts';
import { compilePolicies, type PolicyPod } from '../../src/model/network-policy-compile.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';
import { twoNodes, runNode, podFrame, N1, N2, POD } from './overlay-kit.ts';
import { tcpSeg, SYN, ACK, TCP } from './service-kit.ts';

// the client (N1's pod, namespace x) may send nothing: a rule-less egress policy
function denyClientEgress() {
  const pods: PolicyPod[] = [
    { name: 'client', namespace: 'x', labels: { app: 'client' }, ip: N1.pod, node: 'n1' },
    { name: 'server', namespace: 'y', labels: { app: 'server' }, ip: N2.pod, node: 'n2' },
  ];
  const problems: string[] = [];
  const specs = parseNetworkPolicyList([{ name: 'no-egress', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Egress'] } }], problems);
  expect(problems).toEqual([]);
  const ns = new Map([['x', { 'kubernetes.io/metadata.name': 'x' }], ['y', { 'kubernetes.io/metadata.name': 'y' }]]);
  return compilePolicies('n1', pods, ns, specs);
}

describe('policy denial of a Service flow', () => {
  it('leaves no conntrack entry: the one Service NAT made is removed, and the next packet is judged again', () => {
    const [n1] = twoNodes('vxlan');
    programPolicies(n1, denyClientEgress());
    n1.addService('10.96.0.20', 80, 'tcp', [{ ip: N2.pod, port: 80 }]);
    const send = (vip: string, sport: number, flags: number) =>
      runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: vip, proto: TCP, payload: tcpSeg(N1.pod, vip, sport, 80, flags) }) }]);
    const r = send('10.96.0.20', 42000, SYN);
    expect(r.drops).toEqual({ policy_denied_egress: 1 });
    expect(r.events).toMatchObject({ service_dnat: 1, conntrack_created: 1, conntrack_deleted: 1 });
    expect(n1.conntrack(0)).toEqual([]);
    // the flow's next packet finds no entry: a new flow, denied again
    expect(send('10.96.0.20', 42000, ACK).drops).toEqual({ policy_denied_egress: 1 });
    expect(n1.conntrack(0)).toEqual([]);
  });
});
